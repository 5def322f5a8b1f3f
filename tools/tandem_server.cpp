// tandem-server: see `tandem-server --help`; the work is in src/cli/server_command.cpp.
#include "cli/commands.h"

int main(int argc, char** argv) { return tandem::cli::server_main(argc, argv); }
