// tandem-translate: see `tandem-translate --help`; the work is in src/cli/translate_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::translate_main(argc, argv); }
