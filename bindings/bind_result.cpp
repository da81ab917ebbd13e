// RunResult: the full result of one run, kept in C++; the Python Result
// class turns its parts into dicts, numpy arrays and DataFrames.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "report/interval_report.hpp"
#include "report/result.hpp"
#include "report/serialize.hpp"

namespace mirrorsim::bindings {

namespace {

const VolumeResult& volume_at(const RunResult& r, size_t index) {
  if (index >= r.volumes.size())
    throw py::index_error("volume index " + std::to_string(index) + " out of range (" +
                          std::to_string(r.volumes.size()) + " volumes)");
  return r.volumes[index];
}

const OpStats& op_of(const VolumeResult& v, const std::string& kind) {
  if (kind == "write") return v.writes;
  if (kind == "read") return v.reads;
  throw py::value_error("kind must be \"write\" or \"read\", got \"" + kind + "\"");
}

template <typename T, typename F>
py::array_t<T> column(const RunResult& r, F field) {
  py::array_t<T> a(static_cast<py::ssize_t>(r.timeseries.size()));
  auto out = a.template mutable_unchecked<1>();
  for (size_t i = 0; i < r.timeseries.size(); ++i) out(static_cast<py::ssize_t>(i)) = static_cast<T>(field(r.timeseries[i]));
  return a;
}

}  // namespace

void bind_result(py::module_& m) {
  using namespace pybind11::literals;
  py::class_<RunResult>(m, "RunResult", "The result of one run (report/result.hpp), with every histogram, sample and "
                                        "time-series point.")
      .def_readonly("driver", &RunResult::driver, "\"sim\" or \"real\".")
      .def_readonly("seed", &RunResult::seed)
      .def_readonly("scenario_toml", &RunResult::scenario_toml, "The resolved scenario the run ran.")
      .def_readonly("percentiles", &RunResult::percentiles, "The response-time percentiles reported.")
      .def(
          "to_json", [](const RunResult& r) { return json_text(to_json(r)) + "\n"; },
          "The self-describing JSON text `mirrorsim run --out` writes, byte for byte.")
      .def("summary_metrics", &summary_metrics,
           "Every summary metric as (column, value), in the order of a sweep's columns.")
      .def("summary_text", &summary_text, "The readable summary `mirrorsim run` prints.")
      .def("timeseries_csv", &timeseries_csv, "The time series as `mirrorsim run --timeseries` writes it.")
      .def_readonly("trace_json", &RunResult::trace_json,
                    "The Chrome trace-event JSON of a traced run (what `mirrorsim run --trace` writes), \"\" otherwise.")
      .def(
          "timeseries_columns",
          [](const RunResult& r) {
            py::dict d;
            d["t_s"] = column<double>(r, [](const TimeSample& x) { return x.t_s; });
            d["remote_wp_tracks"] = column<int64_t>(r, [](const TimeSample& x) { return x.remote_wp_tracks; });
            d["local_wp_slots"] = column<int64_t>(r, [](const TimeSample& x) { return x.local_wp_slots; });
            d["invalid_remote_tracks"] = column<int64_t>(r, [](const TimeSample& x) { return x.invalid_remote_tracks; });
            d["delayed_writes"] = column<int64_t>(r, [](const TimeSample& x) { return x.delayed_writes; });
            d["writes_at_risk"] = column<int64_t>(r, [](const TimeSample& x) { return x.writes_at_risk; });
            d["bytes_at_risk"] = column<int64_t>(r, [](const TimeSample& x) { return x.bytes_at_risk; });
            d["link_utilisation"] = column<double>(r, [](const TimeSample& x) { return x.link_utilisation; });
            d["write_iops"] = column<double>(r, [](const TimeSample& x) { return x.write_iops; });
            d["write_response_mean_ms"] = column<double>(r, [](const TimeSample& x) { return x.write_response_mean_ms; });
            for (size_t i = 0; i < kProcessorColumns; ++i)
              d[py::str(processor_column(i))] = column<double>(r, [i](const TimeSample& x) { return x.processor_utilisation[i]; });
            py::list states;
            for (const auto& x : r.timeseries) states.append(x.pair_state);
            d["pair_state"] = states;
            // async (0 for the other modes)
            d["rpo_s"] = column<double>(r, [](const TimeSample& x) { return x.rpo_s; });
            d["cycle_time_s"] = column<double>(r, [](const TimeSample& x) { return x.cycle_time_s; });
            d["delta_set_slots"] = column<int64_t>(r, [](const TimeSample& x) { return x.delta_set_slots; });
            d["pacing_delay_mean_ms"] = column<double>(r, [](const TimeSample& x) { return x.pacing_delay_mean_ms; });
            return d;
          },
          "The time series as {column: values}, the columns of timeseries_csv() in its order, at full precision.")
      .def(
          "volume_names",
          [](const RunResult& r) {
            std::vector<std::string> names;
            for (const auto& v : r.volumes) names.push_back(v.name);
            return names;
          },
          "The volumes, in scenario order.")
      .def(
          "samples_ns",
          [](const RunResult& r, size_t volume, const std::string& kind) {
            const std::vector<int64_t>& s = op_of(volume_at(r, volume), kind).samples.samples();
            return py::array_t<int64_t>(static_cast<py::ssize_t>(s.size()), s.data());
          },
          "volume"_a, "kind"_a,
          "The reservoir of response times (ns) of one volume's writes or reads (kind \"write\" | \"read\"): every "
          "measured one, or a uniform sample of them when there were more than the reservoir holds.")
      .def(
          "samples_seen",
          [](const RunResult& r, size_t volume, const std::string& kind) {
            return op_of(volume_at(r, volume), kind).samples.seen();
          },
          "volume"_a, "kind"_a, "How many response times the reservoir was offered (all measured ones).")
      .def(
          "serialize",
          [](const RunResult& r) {
            const std::vector<uint8_t> bytes = serialize(r);
            return py::bytes(reinterpret_cast<const char*>(bytes.data()), bytes.size());
          },
          "The whole result as bytes (for pickling).")
      .def_static(
          "deserialize",
          [](const py::bytes& b) {
            const std::string s = b;
            return deserialize(std::vector<uint8_t>(s.begin(), s.end()));
          },
          "data"_a,
          "A result from serialize()'s bytes. Raises ValueError naming the first field that is missing, of the "
          "wrong type or out of range.");
  m.def(
      "interval_report_csv",
      [](const Scenario& s, const RunResult& r, double window_s, const std::vector<std::string>& targets) {
        check_interval_window(s, window_s, "window_s");
        std::vector<IntervalTarget> parsed;
        for (size_t i = 0; i < targets.size(); ++i)
          parsed.push_back(parse_interval_target(targets[i], "targets[" + std::to_string(i) + "]"));
        return interval_report_csv(interval_report(s, r, window_s), parsed);
      },
      "scenario"_a, "result"_a, "window_s"_a, "targets"_a,
      "The CSV `mirrorsim run --interval-report` writes for this run of `scenario` (report/interval_report.hpp).");
}

}  // namespace mirrorsim::bindings
