// Binary encodings of the model's link messages and inputs: messages cross
// the link between the controllers; inputs go to each controller's input
// log, which the orchestrator replays under the invariant observer.
//
// Decoding validates against the geometry (every track exists, no count or
// size beyond what the volumes allow) and names the first bad field; a
// message that fails is never given to the model.
#pragma once

#include <optional>

#include "model/io.hpp"
#include "real/geometry.hpp"
#include "real/wire.hpp"

namespace mirrorsim::real {

// The track image of a CopyData or a CycleData travels after the encoded
// message, not inside it.
void encode_message(ByteWriter& w, const Message& m);
std::optional<Message> decode_message(ByteReader& r, const Geometry& g);

void encode_input(ByteWriter& w, const Input& in);
std::optional<Input> decode_input(ByteReader& r, const Geometry& g);

}  // namespace mirrorsim::real
