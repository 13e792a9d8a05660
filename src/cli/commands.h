// Each file registers its subcommands on the CLI11 app; a subcommand's callback sets `exit_code`.
#pragma once

namespace CLI {
class App;
}

namespace mtasts::cli {

void register_lint_commands(CLI::App& app, int& exit_code);
void register_generate_command(CLI::App& app, int& exit_code);
void register_check_command(CLI::App& app, int& exit_code);
void register_domain_command(CLI::App& app, int& exit_code);
void register_serve_command(CLI::App& app, int& exit_code);  // serve + token
void register_reports_command(CLI::App& app, int& exit_code);
// `reports lmtp`, registered by register_reports_command on its `reports` subcommand.
void register_reports_lmtp(CLI::App& reports, int& exit_code);
void register_resolver_commands(CLI::App& app, int& exit_code);  // resolver, query

}  // namespace mtasts::cli
