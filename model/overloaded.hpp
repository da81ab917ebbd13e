// std::visit with one lambda per alternative: std::visit(overloaded{...}, v).
#pragma once

namespace mirrorsim {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace mirrorsim
