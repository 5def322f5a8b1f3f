// tandem-sample: see `tandem-sample --help`; the work is in src/cli/translate_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::sample_main(argc, argv); }
