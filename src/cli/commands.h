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
void register_resolver_commands(CLI::App& app, int& exit_code);  // resolver, query

}  // namespace mtasts::cli
