// tandem-checkpoint: see `tandem-checkpoint --help`; the work is in src/cli/checkpoint_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::checkpoint_main(argc, argv); }
