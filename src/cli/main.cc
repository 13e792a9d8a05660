// mtasts: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460), end to end.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/output.h"

int main(int argc, char** argv) {
  CLI::App app{"mtasts: deploy, check and enforce MTA-STS (RFC 8461) and TLS-RPT (RFC 8460)",
               "mtasts"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mtasts ") + MTASTS_VERSION);
  int exit_code = mtasts::cli::kExitOk;
  mtasts::cli::register_lint_commands(app, exit_code);
  mtasts::cli::register_generate_command(app, exit_code);
  mtasts::cli::register_check_command(app, exit_code);
  mtasts::cli::register_domain_command(app, exit_code);
  mtasts::cli::register_serve_command(app, exit_code);
  mtasts::cli::register_reports_command(app, exit_code);
  mtasts::cli::register_resolver_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? mtasts::cli::kExitOk : mtasts::cli::kExitUsage;
  }
  return exit_code;
}
