// Passwords given to pg_duckpipe (a file, the environment, a libpq service file, or even argv) never
// show in `status`, the log, error messages or `ps`.
#include "core/pg/conninfo.hpp"
#include "harness/pipeline_fixture.hpp"

#include <filesystem>
#include <fstream>

namespace duckpipe::test {

namespace {

const std::string kSecret = "Sup3rSecretPw_91x";

std::string Cmdline(pid_t pid) {
	std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
	std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
	for (auto &c : text) {
		c = c == '\0' ? ' ' : c;
	}
	return text;
}

} // namespace

class SecretsTest : public PipelineTest {
protected:
	std::string WithPassword() const { return Source() + " password=" + kSecret; }
	std::string WriteFile(const std::string &name, const std::string &text) {
		std::string path = dir_->Path() + "/" + name;
		std::ofstream(path) << text;
		std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
		return path;
	}
};

TEST_F(SecretsTest, PasswordsFromFilesAndEnvironmentNeverShow) {
	Sql("CREATE TABLE public.t (id int PRIMARY KEY, v text)");
	Sql("INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 20) g");
	std::map<std::string, std::string> env{{"DUCKPIPE_SOURCE", WithPassword()}};

	// A remote group's conninfo from a file, the daemon's from the environment.
	std::string file = WriteFile("remote.conninfo", WithPassword() + "\n");
	auto created = RunDuckpipe({"create-group", "remote", "--conninfo-file", file}, env);
	ASSERT_EQ(created.exit_code, 0) << created.output;
	EXPECT_EQ(created.output.find(kSecret), std::string::npos) << created.output;
	EXPECT_NE(created.output.find("created group remote"), std::string::npos) << created.output;
	auto added = RunDuckpipe({"add-table", "public.t", "--group", "remote"}, env);
	ASSERT_EQ(added.exit_code, 0) << added.output;

	DaemonProcess daemon({"--data-path", data_path_, "--temp-dir", temp_path_, "run", "--flush-interval", "300"},
	                     log_path_, env);
	ASSERT_TRUE(WaitLakeEqualsSource("public.t", 60s)) << daemon.Log();
	EXPECT_EQ(Cmdline(daemon.Pid()).find(kSecret), std::string::npos);
	for (std::string format : {"table", "json", "csv"}) {
		auto status = RunDuckpipe({"status", "--format", format}, env);
		ASSERT_EQ(status.exit_code, 0) << status.output;
		EXPECT_NE(status.output.find("public.t"), std::string::npos) << status.output;
		EXPECT_EQ(status.output.find(kSecret), std::string::npos) << status.output;
	}

	// Errors name the connection without its password: an unreachable remote, a bad file.
	std::string unreachable = WriteFile("down.conninfo", "host=127.0.0.1 port=1 dbname=x connect_timeout=3 "
	                                                     "password=" +
	                                                         kSecret);
	auto failed = RunDuckpipe({"create-group", "down", "--conninfo-file", unreachable}, env);
	EXPECT_EQ(failed.exit_code, 69) << failed.output;
	EXPECT_NE(failed.output.find("127.0.0.1"), std::string::npos) << failed.output;
	EXPECT_EQ(failed.output.find(kSecret), std::string::npos) << failed.output;
	std::string garbage = WriteFile("bad.conninfo", "host=x 'password=" + kSecret);
	failed = RunDuckpipe({"create-group", "bad", "--conninfo-file", garbage}, env);
	EXPECT_EQ(failed.exit_code, 64) << failed.output;
	EXPECT_NE(failed.output.find(garbage), std::string::npos) << failed.output;
	EXPECT_EQ(failed.output.find(kSecret), std::string::npos) << failed.output;
	failed = RunDuckpipe({"create-group", "missing", "--conninfo-file", dir_->Path() + "/none"}, env);
	EXPECT_EQ(failed.exit_code, 64) << failed.output;

	Sql("INSERT INTO public.t VALUES (21, 'after')");
	EXPECT_TRUE(WaitLakeEqualsSource("public.t", 60s)) << daemon.Log();
	EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
	EXPECT_EQ(daemon.Log().find(kSecret), std::string::npos) << daemon.Log();
}

// libpq reads ~/.pgpass and pg_service.conf itself: `--source service=NAME` keeps every secret out
// of pg_duckpipe's hands.
TEST_F(SecretsTest, LibpqServiceFileWorks) {
	auto parsed = Conninfo::Parse(Source());
	std::string services =
	    WriteFile("pg_service.conf", "[duckpipe_src]\nhost=" + parsed.Get("host") + "\nport=" + parsed.Get("port") +
	                                     "\ndbname=" + parsed.Get("dbname") + "\nuser=" + parsed.Get("user") +
	                                     "\npassword=" + kSecret + "\n");
	Sql("CREATE TABLE public.s (id int PRIMARY KEY)");
	Sql("INSERT INTO public.s SELECT generate_series(1, 5)");
	std::map<std::string, std::string> env{{"PGSERVICEFILE", services}, {"DUCKPIPE_SOURCE", ""}};
	auto added = RunDuckpipe({"--source", "service=duckpipe_src", "add-table", "public.s"}, env);
	ASSERT_EQ(added.exit_code, 0) << added.output;
	auto status = RunDuckpipe({"--source", "service=duckpipe_src", "status", "--format", "json"}, env);
	ASSERT_EQ(status.exit_code, 0) << status.output;
	EXPECT_NE(status.output.find("public.s"), std::string::npos) << status.output;
	EXPECT_EQ(status.output.find(kSecret), std::string::npos) << status.output;
}

// A password typed on the command line is still hidden from `ps` once the arguments are parsed,
// and the log says how to keep it off the command line.
TEST_F(SecretsTest, PasswordOnTheCommandLineIsScrubbedFromPs) {
	Sql("CREATE TABLE public.c (id int PRIMARY KEY)");
	Sql("INSERT INTO public.c SELECT generate_series(1, 5)");
	DuckpipeOk({"add-table", "public.c"});
	DaemonProcess daemon({"--source", WithPassword(), "--data-path", data_path_, "--temp-dir", temp_path_, "run",
	                      "--flush-interval", "300"},
	                     log_path_, {{"DUCKPIPE_SOURCE", ""}});
	ASSERT_TRUE(WaitLakeEqualsSource("public.c", 60s)) << daemon.Log();
	auto cmdline = Cmdline(daemon.Pid());
	EXPECT_EQ(cmdline.find(kSecret), std::string::npos) << cmdline;
	EXPECT_NE(cmdline.find("password=****"), std::string::npos) << cmdline;
	EXPECT_EQ(daemon.Terminate(), 0) << daemon.Log();
	EXPECT_EQ(daemon.Log().find(kSecret), std::string::npos) << daemon.Log();
	EXPECT_NE(daemon.Log().find("cli.password_in_arguments"), std::string::npos) << daemon.Log();
}

} // namespace duckpipe::test
