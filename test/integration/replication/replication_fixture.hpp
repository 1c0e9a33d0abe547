#pragma once

#include "core/cdc/pgoutput_decoder.hpp"
#include "core/pg/pg_connection.hpp"
#include "core/pg/replication_connection.hpp"
#include "core/pg/replication_stream.hpp"
#include "harness/pg_cluster.hpp"
#include "unit/cdc/recording_handler.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace duckpipe::test {

// Renders transaction boundaries without LSNs so expected streams can be written literally; the
// LSNs are kept aside for the tests that check them.
class StableHandler : public RecordingHandler {
public:
	std::vector<cdc::CommitMessage> commits;
	std::vector<cdc::StreamCommitMessage> stream_commits;
	std::vector<std::shared_ptr<const cdc::RelationInfo>> relations;
	std::string marker_seen;

	void OnBegin(const cdc::BeginMessage &m) override {
		events.push_back("B");
		last_begin = m;
	}
	void OnCommit(const cdc::CommitMessage &m) override {
		events.push_back("C");
		commits.push_back(m);
	}
	void OnRelation(const std::shared_ptr<const cdc::RelationInfo> &r, cdc::RelationChange change) override {
		RecordingHandler::OnRelation(r, change);
		relations.push_back(r);
	}
	void OnStreamCommit(const cdc::StreamCommitMessage &m) override {
		RecordingHandler::OnStreamCommit(m);
		stream_commits.push_back(m);
	}
	void OnMessage(const cdc::LogicalMessage &m) override {
		// The end-of-workload marker is not part of what the tests compare.
		if (m.prefix == "test_marker") {
			marker_seen = std::string(m.content);
			return;
		}
		RecordingHandler::OnMessage(m);
	}
};

// One database with a publication for all tables, a temporary slot and a decoder.
class ReplicationFixture : public ::testing::Test {
protected:
	void SetUp() override {
		auto &cluster = PgCluster::Shared();
		db_ = cluster.CreateDatabase("repl");
		sql_ = std::make_unique<PgConnection>(cluster.Conninfo(db_));
	}

	// Creates the publication and slot (after the tables exist, before the workload).
	void Prepare(const std::string &publication_sql = "CREATE PUBLICATION pub FOR ALL TABLES") {
		sql_->Exec(publication_sql);
		// A low logical_decoding_work_mem makes large transactions stream (with proto 2).
		repl_ = std::make_unique<ReplicationConnection>(
		    PgCluster::Shared().Conninfo(db_) + " options='-c logical_decoding_work_mem=64kB " + extra_options_ + "'");
		slot_ = repl_->CreateSlot("slot_" + db_.substr(db_.rfind('_') + 1), true, SlotSnapshot::Nothing);
	}

	void Start(int proto = 2, bool streaming = true, bool binary = false) {
		StreamOptions o;
		o.slot_name = slot_.slot_name;
		o.start_lsn = slot_.consistent_point;
		o.proto_version = proto;
		o.streaming = streaming;
		o.binary = binary;
		o.publications = {"pub"};
		o.status_interval_ms = status_interval_ms_;
		stream_ = std::make_unique<ReplicationStream>(*repl_, o);
		decoder_ = std::make_unique<cdc::PgOutputDecoder>(handler_, proto);
	}

	// Emits a non-transactional marker and decodes until it arrives: everything committed before
	// has been decoded by then.
	void DecodeUntilMarker(int timeout_s = 30) {
		std::string marker = std::to_string(++marker_count_);
		sql_->Exec("SELECT pg_logical_emit_message(false, 'test_marker', $1)", {marker});
		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
		while (handler_.marker_seen != marker) {
			if (std::chrono::steady_clock::now() > deadline) {
				throw std::runtime_error("marker " + marker + " never arrived");
			}
			auto ev = stream_->Next(500);
			if (auto *x = std::get_if<XLogData>(&ev)) {
				decoder_->Decode(x->payload, x->wal_start);
				xlog_messages_++;
			}
			if (std::holds_alternative<EndOfStream>(ev)) {
				throw std::runtime_error("stream ended before marker " + marker);
			}
		}
	}

	std::vector<std::string> TakeEvents() {
		auto out = std::move(handler_.events);
		handler_.events.clear();
		return out;
	}

	std::string db_;
	std::unique_ptr<PgConnection> sql_;
	std::unique_ptr<ReplicationConnection> repl_;
	CreatedSlot slot_;
	StableHandler handler_;
	std::unique_ptr<ReplicationStream> stream_;
	std::unique_ptr<cdc::PgOutputDecoder> decoder_;
	std::string extra_options_;     // more -c settings for the walsender session
	int status_interval_ms_ = 1000; // of the stream Start() opens
	int marker_count_ = 0;
	size_t xlog_messages_ = 0;
};

} // namespace duckpipe::test
