// tandem-bench: see `tandem-bench --help`; the work is in src/cli/bench_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::bench_main(argc, argv); }
