// tandem-vocab: see `tandem-vocab --help`; the work is in src/cli/vocab_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::vocab_main(argc, argv); }
