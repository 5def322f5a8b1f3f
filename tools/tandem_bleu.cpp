// tandem-bleu: see `tandem-bleu --help`; the work is in src/cli/bleu_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::bleu_main(argc, argv); }
