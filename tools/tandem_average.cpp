// tandem-average: see `tandem-average --help`; the work is in src/cli/checkpoint_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::average_main(argc, argv); }
