namespace ChatWire.Protocol;

/// <summary>The first element of every frame body: what the frame is. See docs/protocol.md §4.</summary>
public enum Opcode : byte
{
    /// <summary>Client → server, first frame on a connection: version, client name, capabilities.</summary>
    Hello = 0x01,

    /// <summary>Server → client, answer to HELLO: version, limits, heartbeat interval, server time.</summary>
    Welcome = 0x02,

    /// <summary>Client → server: session token and device id.</summary>
    Auth = 0x03,

    /// <summary>Server → client: the authenticated identity.</summary>
    AuthOk = 0x04,

    /// <summary>Either direction: liveness probe; the peer answers PONG with the same request id.</summary>
    Ping = 0x05,

    /// <summary>Either direction: answer to PING.</summary>
    Pong = 0x06,

    /// <summary>Server → client: a request failed (request id set) or the connection is being closed (request id 0).</summary>
    Error = 0x07,

    /// <summary>Client → server: store a message in a conversation.</summary>
    Send = 0x10,

    /// <summary>Server → client: the message is durable; carries its sequence number.</summary>
    SendAck = 0x11,

    /// <summary>Server → client, pushed (request id 0): an event stored in a conversation the user belongs to (a message, a membership change, …).</summary>
    Event = 0x12,

    /// <summary>Client → server: page a conversation's events from a sequence number, either direction.</summary>
    History = 0x13,

    /// <summary>Server → client: answer to HISTORY.</summary>
    HistoryPage = 0x14,

    /// <summary>Client → server: list my conversations with where each one stands (its latest seq), a page at a time.</summary>
    Sync = 0x15,

    /// <summary>Server → client: answer to SYNC.</summary>
    SyncPage = 0x16,

    /// <summary>Server → client: a request that changes something (EDIT, DELETE, REACT, READ) succeeded; carries the seq it stored, if any.</summary>
    Ok = 0x17,

    /// <summary>Client → server: replace the content of one of my messages.</summary>
    Edit = 0x18,

    /// <summary>Client → server: delete a message (mine, or anyone's as a team admin), leaving a tombstone.</summary>
    Delete = 0x19,

    /// <summary>Client → server: add or remove my emoji reaction to a message.</summary>
    React = 0x1A,

    /// <summary>Client → server: move my read position in a conversation (shared by all my devices).</summary>
    Read = 0x1B,

    /// <summary>Server → client, pushed (request id 0): the user's read position and counts in a conversation changed.</summary>
    ReadState = 0x1C,

    /// <summary>Client → server: I am typing in a conversation (ephemeral, not stored).</summary>
    Typing = 0x1D,

    /// <summary>Server → client, pushed (request id 0): someone is typing in a conversation.</summary>
    UserTyping = 0x1E,

    /// <summary>Client → server: set my status (online, away, do not disturb).</summary>
    SetStatus = 0x1F,

    /// <summary>Client → server: the users whose presence I show (replaces the previous set).</summary>
    PresenceWatch = 0x20,

    /// <summary>Server → client: presence of watched users; the answer to PRESENCE_WATCH, then pushed (request id 0) on each change.</summary>
    Presence = 0x21,

    /// <summary>Client → server: this device holds every event up to these seqs (its delivery cursors).</summary>
    Received = 0x22,

    /// <summary>
    /// Server → client, pushed (request id 0): this node is draining; reconnect, to another node if there is
    /// one, within the announced window. The connection keeps working until then.
    /// </summary>
    GoAway = 0x23,

    /// <summary>
    /// Server → client, pushed (request id 0) to every connection of a user: something in the user's own keys
    /// changed (a device registered, approved or revoked, keys left for a device, a new history key, the account key).
    /// </summary>
    KeysChanged = 0x24,
}

/// <summary>The stable names of the opcodes, as <c>docs/protocol.md</c> §4 writes them.</summary>
public static class Opcodes
{
    /// <summary>The opcode's name, e.g. <c>SEND_ACK</c>; <c>UNKNOWN</c> for a value this library does not know.</summary>
    /// <param name="opcode">The opcode.</param>
    public static string Name(Opcode opcode) => opcode switch
    {
        Opcode.Hello => "HELLO",
        Opcode.Welcome => "WELCOME",
        Opcode.Auth => "AUTH",
        Opcode.AuthOk => "AUTH_OK",
        Opcode.Ping => "PING",
        Opcode.Pong => "PONG",
        Opcode.Error => "ERROR",
        Opcode.Send => "SEND",
        Opcode.SendAck => "SEND_ACK",
        Opcode.Event => "EVENT",
        Opcode.History => "HISTORY",
        Opcode.HistoryPage => "HISTORY_PAGE",
        Opcode.Sync => "SYNC",
        Opcode.SyncPage => "SYNC_PAGE",
        Opcode.Ok => "OK",
        Opcode.Edit => "EDIT",
        Opcode.Delete => "DELETE",
        Opcode.React => "REACT",
        Opcode.Read => "READ",
        Opcode.ReadState => "READ_STATE",
        Opcode.Typing => "TYPING",
        Opcode.UserTyping => "USER_TYPING",
        Opcode.SetStatus => "SET_STATUS",
        Opcode.PresenceWatch => "PRESENCE_WATCH",
        Opcode.Presence => "PRESENCE",
        Opcode.Received => "RECEIVED",
        Opcode.GoAway => "GO_AWAY",
        Opcode.KeysChanged => "KEYS_CHANGED",
        _ => "UNKNOWN",
    };
}
