using ChatWire.Protocol;

namespace ChatWire.Client.Internal;

// A decoded frame from the server. The payload is the boxed frame struct (null for an opcode this
// library does not know); a body that failed to decode keeps its header and the reason, so the
// request it answers can fail without the link failing (STYLE: a failure in one request fails that request).
internal readonly record struct InboundFrame(FrameHeader Header, object? Payload, ProtocolException? DecodeError);
