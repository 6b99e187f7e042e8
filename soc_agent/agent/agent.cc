#include "soc_agent/agent/agent.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_telemetry.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "soc_agent/agent/flow_table_adapter.h"
#include "soc_agent/api/api_config.h"
#include "soc_agent/device/rte_flow_device.h"
#include "soc_agent/device/softasic.h"
#include "spdlog/spdlog.h"

namespace nicswitch::agent {
namespace {

constexpr char kDefaultGatewayMac[] = "02:00:00:00:00:01";
constexpr char kDefaultStorePath[] = "/var/lib/nicswitch/policy.db";

// The agent whose stats the telemetry command reports (one agent per process).
std::atomic<Agent*> telemetry_agent{nullptr};

int TelemetrySlowPath(const char*, const char*, rte_tel_data* data) {
  Agent* agent = telemetry_agent.load();
  if (agent == nullptr) {
    return -1;
  }
  const slowpath::SlowPathStats s = agent->slow_path_stats();
  const flows::FlowManagerStats f = agent->flows().stats();
  rte_tel_data_start_dict(data);
  rte_tel_data_add_dict_u64(data, "exceptions", s.exceptions);
  rte_tel_data_add_dict_u64(data, "flow_setups", s.flow_setups);
  rte_tel_data_add_dict_u64(data, "first_packets", s.first_packets);
  rte_tel_data_add_dict_u64(data, "software_packets", s.software_packets);
  rte_tel_data_add_dict_u64(data, "arp_replies", s.arp_replies);
  rte_tel_data_add_dict_u64(data, "rate_limited", s.rate_limited);
  rte_tel_data_add_dict_u64(data, "drops", s.total_drops());
  for (int i = 0; i < slowpath::kDropReasonCount; ++i) {
    rte_tel_data_add_dict_u64(
        data,
        absl::StrCat("drop_", slowpath::DropReasonName(static_cast<slowpath::DropReason>(i)))
            .c_str(),
        s.drops[i]);
  }
  rte_tel_data_add_dict_u64(data, "flows", f.flows);
  rte_tel_data_add_dict_u64(data, "software_flows", f.software_flows);
  rte_tel_data_add_dict_u64(data, "applied_revision", agent->flows().applied_revision());
  return 0;
}

int TelemetryCapabilities(const char*, const char*, rte_tel_data* data) {
  Agent* agent = telemetry_agent.load();
  if (agent == nullptr) {
    return -1;
  }
  rte_tel_data_start_dict(data);
  for (const device::ShapeCapability& c : agent->capabilities().shapes()) {
    const std::string name(device::RuleShapeName(c.shape));
    if (c.supported) {
      rte_tel_data_add_dict_string(data, name.c_str(), "offloaded");
    } else {
      // Telemetry strings are bounded (RTE_TEL_MAX_STRING_LEN); the reason is cut to fit.
      std::string text =
          absl::StrCat("software: ", device::ErrnoName(c.error_number), " ", c.reason);
      text.resize(std::min<size_t>(text.size(), RTE_TEL_MAX_STRING_LEN - 1));
      rte_tel_data_add_dict_string(data, name.c_str(), text.c_str());
    }
  }
  return 0;
}

}  // namespace

absl::StatusOr<api::PolicyServerOptions> ValidateAgentConfig(v1::AgentConfig& config,
                                                             const TextProtoFile& file) {
  if (config.datapath() == v1::AgentConfig::DATAPATH_UNSPECIFIED) {
    config.set_datapath(v1::AgentConfig::SOFT);
  }
  if (config.datapath() == v1::AgentConfig::SOFT) {
    if (config.softasic().uplink().empty()) {
      return file.FieldError("softasic.uplink", "the soft datapath needs the uplink's devargs");
    }
    if (config.softasic().vfs().empty()) {
      return file.FieldError("softasic.vfs", "the soft datapath needs at least one VF port");
    }
  } else if (config.datapath() == v1::AgentConfig::RTE_FLOW) {
    if (config.rte_flow().uplink_port().empty()) {
      return file.FieldError("rte_flow.uplink_port",
                             "the rte_flow datapath needs the uplink (PF) ethdev name");
    }
    if (config.rte_flow().vf_representors().empty()) {
      return file.FieldError("rte_flow.vf_representors",
                             "the rte_flow datapath needs at least one VF representor");
    }
  } else {
    return file.FieldError("datapath", absl::StrCat("unknown datapath ", config.datapath()));
  }
  if (config.slow_path().gateway_mac().empty()) {
    config.mutable_slow_path()->set_gateway_mac(kDefaultGatewayMac);
  }
  absl::StatusOr<flowrules::MacAddress> gw =
      flowrules::MacAddress::Parse(config.slow_path().gateway_mac());
  if (!gw.ok()) {
    return file.FieldError("slow_path.gateway_mac", gw.status().message());
  }
  if ((gw->bytes[0] & 1) != 0) {
    return file.FieldError("slow_path.gateway_mac",
                           absl::StrCat("\"", gw->ToString(), "\" is a multicast address"));
  }
  if (config.slow_path().exceptions_per_second() == 0) {
    config.mutable_slow_path()->set_exceptions_per_second(20000);
  }
  if (config.slow_path().exception_burst() == 0) {
    config.mutable_slow_path()->set_exception_burst(512);
  }
  if (config.slow_path().flow_age_seconds() == 0) {
    config.mutable_slow_path()->set_flow_age_seconds(30);
  }
  if (config.api().store_path().empty()) {
    config.mutable_api()->set_store_path(kDefaultStorePath);
  }
  return api::OptionsFromConfig(config.api(), file, "api.");
}

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(const v1::AgentConfig& config,
                                                     api::PolicyServerOptions api_options) {
  std::unique_ptr<Agent> agent(new Agent());
  agent->config_ = config;

  // The device.
  if (config.datapath() == v1::AgentConfig::RTE_FLOW) {
    RETURN_IF_ERROR(agent->OpenRteFlowDevice());
  } else {
    device::SoftAsicConfig soft;
    soft.name = "nsw";
    soft.uplink.devargs = config.softasic().uplink();
    for (const std::string& vf : config.softasic().vfs()) {
      soft.vfs.push_back(device::SoftAsicPortConfig{vf, -1});
    }
    soft.datapath_lcores.assign(config.softasic().datapath_lcores().begin(),
                                config.softasic().datapath_lcores().end());
    if (config.softasic().max_rules() != 0) {
      soft.max_rules = config.softasic().max_rules();
    }
    soft.idle_sleep_max_us = config.softasic().idle_sleep_max_us();
    soft.record_busy_cycles = config.softasic().record_busy_cycles();
    ASSIGN_OR_RETURN(agent->softasic_, device::SoftAsic::Create(soft));
    agent->device_ = std::make_unique<device::SoftAsicFlowDevice>(*agent->softasic_);
  }
  ASSIGN_OR_RETURN(const std::vector<device::PortInfo> ports, agent->device_->ListPorts());
  slowpath::SwitchPorts switch_ports;
  for (const device::PortInfo& port : ports) {
    if (port.role == device::PortRole::kUplink) {
      switch_ports.uplink = port.representor_port_id;
    } else {
      switch_ports.vf.push_back(port.representor_port_id);
    }
    SPDLOG_INFO(
        "port {} ({}): ethdev {}, representor {} ({})",
        port.role == device::PortRole::kUplink ? "uplink" : absl::StrCat("vf", port.vf_index),
        port.name, port.port_id, port.representor_port_id, port.representor_name);
  }

  RETURN_IF_ERROR(agent->ProbeDevice(switch_ports));

  // Flows and the slow path.
  flows::FlowManager::Options flow_options;
  flow_options.age_seconds = config.slow_path().flow_age_seconds();
  agent->flows_ = std::make_unique<flows::FlowManager>(*agent->probed_, flow_options);
  slowpath::SlowPathOptions slow;
  slow.decision.gateway_mac = *flowrules::MacAddress::Parse(config.slow_path().gateway_mac());
  slow.exceptions_per_second_per_vnic = config.slow_path().exceptions_per_second();
  slow.exception_burst = config.slow_path().exception_burst();
  agent->slow_path_ =
      std::make_unique<slowpath::SlowPath>(*agent->probed_, *agent->flows_, switch_ports, slow);
  agent->flow_table_ = std::make_unique<FlowTableAdapter>(*agent->flows_, agent->slow_path_.get());
  agent->flow_table_->AttachCapabilities(agent->probed_.get());

  // The policy API; the slow path's replica starts from the restored policy.
  api_options.engine.limits.max_vfs = static_cast<uint32_t>(switch_ports.vf.size());
  ASSIGN_OR_RETURN(agent->server_, api::PolicyServer::Start(api_options));
  agent->server_->AttachFlowTable(agent->flow_table_.get());

  std::vector<v1::Entity> snapshot;
  uint64_t revision = 0;
  slowpath::SlowPath* slow_path = agent->slow_path_.get();
  agent->subscription_ = agent->server_->engine().Subscribe(
      [slow_path](const policy::PolicyBatch& batch) { slow_path->EnqueueBatch(batch); }, &snapshot,
      &revision);
  const bool has_underlay = std::any_of(snapshot.begin(), snapshot.end(),
                                        [](const v1::Entity& e) { return e.has_underlay(); });
  SPDLOG_INFO("policy restored from {}: revision {}, {} entities", api_options.engine.store_path,
              revision, snapshot.size());
  slow_path->EnqueueBatch(slowpath::SnapshotBatch(std::move(snapshot), revision));
  slow_path->ApplyPendingBatches();

  if (!has_underlay && config.has_underlay()) {
    v1::WriteRequest request;
    v1::Update* update = request.add_updates();
    update->set_type(v1::Update::INSERT);
    *update->mutable_entity()->mutable_underlay() = config.underlay();
    const api::PolicyEngine::WriteResult result = agent->server_->engine().Write(request);
    if (result.status.code() != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("underlay from the config: ", result.status.message()));
    }
    SPDLOG_INFO("underlay from the config written at revision {}", result.revision);
  }

  if (agent->softasic_ != nullptr) {
    RETURN_IF_ERROR(agent->softasic_->Start());
  }
  telemetry_agent.store(agent.get());
  rte_telemetry_register_cmd("/nicswitch/slowpath", TelemetrySlowPath,
                             "Slow-path and flow counters of nicswitch-agent. No parameters");
  rte_telemetry_register_cmd("/nicswitch/capabilities", TelemetryCapabilities,
                             "Rule shapes the device offloads (probed at start-up). No parameters");
  SPDLOG_INFO("nicswitch-agent running: {} VFs, API on {}", switch_ports.vf.size(),
              api_options.unix_socket.empty() ? api_options.tcp_address : api_options.unix_socket);
  return agent;
}

Agent::~Agent() { Shutdown(); }

absl::Status Agent::ProbeDevice(const slowpath::SwitchPorts& ports) {
  device::ShapeSampleOptions samples;
  samples.uplink_port = ports.uplink;
  samples.vf_ports = ports.vf;
  samples.age_seconds = config_.slow_path().flow_age_seconds();
  samples.group = slowpath::DecisionOptions().flow_group;
  samples.priority = slowpath::DecisionOptions().flow_priority;
  device::DeviceCapabilities caps = device::ProbeCapabilities(*device_, samples);
  if (absl::Status status = device::CheckMandatoryShapes(caps); !status.ok()) {
    const bool rte_flow = config_.datapath() == v1::AgentConfig::RTE_FLOW;
    return absl::Status(
        status.code(),
        absl::StrCat(
            rte_flow ? "datapath RTE_FLOW: " : "datapath SOFT: ", status.message(),
            rte_flow ? "; use datapath SOFT on a NIC whose switch cannot offload it" : ""));
  }
  // Once, at start-up, with the driver's reason: the flows of these shapes never reach it.
  for (const device::ShapeCapability& c : caps.shapes()) {
    if (!c.supported) {
      SPDLOG_WARN(
          "device capability: rule shape {} is refused by the device ({}{}); its flows are "
          "forwarded in software by the agent",
          std::string(device::RuleShapeName(c.shape)),
          c.error_number != 0 ? device::ErrnoName(c.error_number) + ": " : "", c.reason);
    }
  }
  SPDLOG_INFO("device capabilities: {} of {} rule shapes offloaded", caps.supported_count(),
              device::kRuleShapeCount);
  probed_ = std::make_unique<device::ProbedFlowDevice>(*device_, std::move(caps));
  return absl::OkStatus();
}

absl::Status Agent::OpenRteFlowDevice() {
  // On a SmartNIC in switchdev mode the PF is the uplink's representor and each VF has a
  // representor ethdev: the agent exchanges exception packets on them and rules address them.
  std::vector<std::string> names = {config_.rte_flow().uplink_port()};
  names.insert(names.end(), config_.rte_flow().vf_representors().begin(),
               config_.rte_flow().vf_representors().end());
  const unsigned pool_size = 4096 * static_cast<unsigned>(names.size()) - 1;
  exception_pool_ = rte_pktmbuf_pool_create("nsw_exceptions", pool_size, 256, 0,
                                            RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  if (exception_pool_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot create the exception mbuf pool (", pool_size, " mbufs)"));
  }
  device::RteFlowDeviceConfig device_config;
  for (size_t i = 0; i < names.size(); ++i) {
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(names[i].c_str(), &port) != 0) {
      return absl::NotFoundError(absl::StrCat(
          i == 0 ? "rte_flow.uplink_port" : absl::StrCat("rte_flow.vf_representors[", i - 1, "]"),
          ": no ethdev named \"", names[i], "\" (probe it with EAL arguments, e.g. -a ",
          "<pci>,representor=vf[0-3])"));
    }
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(port, 1, 1, &conf);
    if (rc == 0)
      rc = rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr,
                                  exception_pool_);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr);
    if (rc == 0) rc = rte_eth_dev_start(port);
    if (rc != 0) {
      return absl::InternalError(absl::StrCat("ethdev \"", names[i], "\" (port ", port,
                                              "): cannot start: ", rte_strerror(-rc)));
    }
    started_ports_.push_back(port);
    device::PortInfo info;
    info.role = i == 0 ? device::PortRole::kUplink : device::PortRole::kVf;
    info.vf_index = i == 0 ? -1 : static_cast<int>(i - 1);
    info.port_id = port;
    info.name = names[i];
    info.representor_port_id = port;
    info.representor_name = names[i];
    device_config.ports.push_back(info);
  }
  device_config.port_id = device_config.ports[0].port_id;
  rte_flow_api_ = device::MakeDpdkRteFlowApi();
  absl::StatusOr<std::unique_ptr<device::RteFlowDevice>> device =
      device::RteFlowDevice::Create(*rte_flow_api_, device_config);
  if (!device.ok()) {
    return absl::Status(device.status().code(),
                        absl::StrCat("datapath RTE_FLOW: \"", names[0],
                                     "\" offers no usable rte_flow transfer switch (use datapath "
                                     "SOFT on NICs without one): ",
                                     device.status().message()));
  }
  device_ = std::move(*device);
  return absl::OkStatus();
}

void Agent::Run(const std::atomic<bool>& stop) {
  using Clock = std::chrono::steady_clock;
  auto next_housekeeping = Clock::now() + std::chrono::seconds(1);
  auto next_log = Clock::now() + std::chrono::seconds(10);
  int idle_rounds = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    const size_t handled = slow_path_->PollOnce();
    if (handled == 0) {
      // Back off while idle so the agent does not burn a core shared with datapaths:
      // 0 -> 1 ms in steps, reset by the first packet.
      ++idle_rounds;
      if (idle_rounds > 16) {
        std::this_thread::sleep_for(std::chrono::microseconds(std::min(1000, idle_rounds * 20)));
      }
    } else {
      idle_rounds = 0;
    }
    const auto now = Clock::now();
    if (now >= next_housekeeping) {
      Housekeeping();
      next_housekeeping = now + std::chrono::seconds(1);
    }
    if (now >= next_log) {
      LogStatus();
      next_log = now + std::chrono::seconds(10);
    }
  }
}

void Agent::Housekeeping() {
  if (absl::Status status = flows_->PollCounters(); !status.ok()) {
    SPDLOG_WARN("counter poll: {}", status.ToString());
  }
  if (absl::StatusOr<size_t> aged = flows_->PollAging(); !aged.ok()) {
    SPDLOG_WARN("aging poll: {}", aged.status().ToString());
  } else if (*aged > 0) {
    SPDLOG_DEBUG("{} idle flow directions aged out", *aged);
  }
}

void Agent::LogStatus() {
  const slowpath::SlowPathStats s = slow_path_->stats();
  const flows::FlowManagerStats f = flows_->stats();
  SPDLOG_INFO(
      "revision {} applied; flows {} ({} in software); exceptions {}, setups {}, arp {}, "
      "software-forwarded {}, drops {}, rate-limited {}",
      flows_->applied_revision(), f.flows, f.software_flows, s.exceptions, s.flow_setups,
      s.arp_replies, s.software_packets, s.total_drops(), s.rate_limited);
}

void Agent::Shutdown() {
  if (shut_down_) {
    return;
  }
  shut_down_ = true;
  telemetry_agent.store(nullptr);
  if (server_ != nullptr) {
    if (subscription_ != 0) {
      server_->engine().Unsubscribe(subscription_);
    }
    server_->AttachFlowTable(nullptr);
    server_->Shutdown();
  }
  if (flows_ != nullptr) {
    const size_t removed = flows_->Flush("");
    SPDLOG_INFO("removed {} installed flow directions", removed);
  }
  if (softasic_ != nullptr) {
    softasic_->Stop();
  }
  server_.reset();  // closes the store
  slow_path_.reset();
  flow_table_.reset();
  flows_.reset();
  probed_.reset();
  device_.reset();
  rte_flow_api_.reset();
  softasic_.reset();
  for (uint16_t port : started_ports_) {
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
  }
  started_ports_.clear();
  if (exception_pool_ != nullptr) {
    rte_mempool_free(exception_pool_);
    exception_pool_ = nullptr;
  }
}

}  // namespace nicswitch::agent
