// validate(): the simulator against this machine (real/validate.hpp) —
// calibrate, run the scenario as written on real processes and in the
// simulator, compare the response-time distributions — in a forked child.
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "bindings/forked_call.hpp"

#if MIRRORSIM_BIND_VALIDATE
#include "real/validate.hpp"
#include "report/serialize.hpp"
#endif

namespace mirrorsim::bindings {

void bind_validate(py::module_& m) {
#if MIRRORSIM_BIND_VALIDATE
  using namespace pybind11::literals;
  m.attr("HAVE_VALIDATE") = true;
  m.def(
      "validate",
      [](const Scenario& s, int calibration_ops, const std::string& calibration, double probe_s, int cpu_probes) {
        if (calibration_ops < 10) throw py::value_error("validate: calibration_ops >= 10");
        if (cpu_probes < 1 || cpu_probes > 2)
          throw py::value_error("validate: cpu_probes is 1 (before the real runs) or 2 (before and after them)");
        if (!(probe_s >= 0.5 && probe_s <= 600)) throw py::value_error("validate: 0.5 <= probe_s <= 600");
        real::ValidateOptions o;
        o.calibration_ops = calibration_ops;
        o.calibration_path = calibration;
        o.probe_s = probe_s;
        o.cpu_probes = cpu_probes;
        o.real.progress = false;
        // What the real driver cannot run is bad input: refused before forking.
        real::check_validation_support(s, o);
        auto bytes = [](const RunResult& r) {
          const std::vector<uint8_t> b = serialize(r);
          return std::string(b.begin(), b.end());
        };
        const auto parts = call_in_child(
            [&] {
              const real::Validation v = real::validate(s, o);
              const real::RateValidation& r = v.rates.at(0);
              return std::vector<std::string>{json_text(real::to_json(v)) + "\n", real::validation_text(v),
                                              bytes(r.real_a.result), bytes(r.sim), r.scenario.resolved_toml,
                                              r.scenario.source, r.real_a.verification.ok() && r.real_b.verification.ok() ? "1" : "0",
                                              bytes(r.real_b.result)};
            },
            "the validation");
        const auto result = [](const std::string& b) { return deserialize(std::vector<uint8_t>(b.begin(), b.end())); };
        py::dict d;
        d["json"] = parts.at(0);
        d["text"] = parts.at(1);
        d["real"] = result(parts.at(2));
        d["sim"] = result(parts.at(3));
        d["scenario_toml"] = parts.at(4);
        d["scenario_source"] = parts.at(5);
        d["verified"] = parts.at(6) == "1";
        d["real_b"] = result(parts.at(7));
        return d;
      },
      "scenario"_a, "calibration_ops"_a, "calibration"_a, "probe_s"_a, "cpu_probes"_a,
      "`mirrorsim validate` in a forked child: the scenario as written, calibrated on this machine (calibrate's "
      "probes), run twice on real processes and once in the simulator. Returns {json: the text `mirrorsim validate "
      "--out` writes, text: what it prints, real, real_b: RunResult, sim: RunResult, scenario_toml, "
      "scenario_source: what they ran, verified: both real runs' verifications passed}.");
#else
  m.attr("HAVE_VALIDATE") = false;
#endif
}

}  // namespace mirrorsim::bindings
