#pragma once

// After the server starts, brings back the workers of the groups that were running: a launcher
// (connected to no database) lists the databases and starts a short-lived probe in each, which
// starts the workers of its enabled bgworker-mode groups that have tables. Both exit when done.
namespace duckpipe::ext {

void RegisterLauncher();

} // namespace duckpipe::ext
