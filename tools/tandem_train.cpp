// tandem-train: see `tandem-train --help`; the work is in src/cli/train_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::train_main(argc, argv); }
