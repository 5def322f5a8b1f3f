// tandem-plot: see `tandem-plot --help`; the work is in src/cli/plot_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::plot_main(argc, argv); }
