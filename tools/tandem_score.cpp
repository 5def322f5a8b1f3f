// tandem-score: see `tandem-score --help`; the work is in src/cli/translate_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::score_main(argc, argv); }
