// libFuzzer target: any bytes as one request line. decode_request must never crash nor throw,
// and whatever it accepts must survive being answered.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto request = armd::protocol::decode_request(line);
  if (request) {
    arm::Reply reply;
    reply.service = request->service;
    reply.message = request->service;  // arbitrary bytes must be escaped, not thrown on
    (void)armd::protocol::encode_reply(request->id, reply);
    (void)armd::protocol::encode_unknown_services(request->id, request->services,
                                                  request->services);
  } else {
    (void)armd::protocol::encode_error(request.error().id, request.error().outcome,
                                       request.error().message);
  }
  return 0;
}
