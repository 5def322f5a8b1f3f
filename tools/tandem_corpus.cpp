// tandem-corpus: see `tandem-corpus --help`; the work is in src/cli/corpus_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::corpus_main(argc, argv); }
