using System.Text;
using ChatWire.Client;
using ChatWire.Client.Secure;
using ChatWire.Protocol.Frames;

namespace ChatWire.Cli;

// How listen, history and thread show end-to-end encrypted events: decrypted in place (the line then reads as a
// plain text message, with "encrypted": true in JSON), or "[cannot decrypt: REASON]" when this device has no key.
internal static class E2eView
{
    public static async Task WriteEventAsync(CommandContext context, SecureClient? secure, ConversationEvent e, NameBook names, string? conversation)
    {
        var (shown, encrypted) = await RevealAsync(context, secure, e).ConfigureAwait(false);
        var json = CliOutput.EventJson(shown, names);
        if (encrypted)
        {
            json["encrypted"] = true;
        }

        await context.Output.WriteAsync(json, CliOutput.EventHuman(shown, names, conversation)).ConfigureAwait(false);
    }

    private static async Task<(ConversationEvent Shown, bool Encrypted)> RevealAsync(CommandContext context, SecureClient? secure, ConversationEvent e)
    {
        if (e.ContentType != SecureClient.ContentType)
        {
            return (e, false);
        }

        string text;
        if (secure is null)
        {
            text = "[cannot decrypt: this device has no keys]";
        }
        else
        {
            try
            {
                var content = await secure.DecryptAsync(e, context.Cancellation).ConfigureAwait(false);
                text = content.Plaintext is { } plaintext
                    ? AttachmentMessage.TryDecode(plaintext, out var file) ? Describe(e, file!) : Encoding.UTF8.GetString(plaintext)
                    : $"[cannot decrypt: {content.FailureReason}]";
            }
            catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
            {
                text = $"[cannot decrypt: {ex.Message}]";
            }
        }

        return (e with { ContentType = "text/plain", Content = Encoding.UTF8.GetBytes(text) }, true);
    }

    private static string Describe(ConversationEvent e, AttachmentMessage file) =>
        $"[file {file.FileName}, {file.Descriptor.MimeType}, {file.Descriptor.Keys.PlaintextSize.ToString(System.Globalization.CultureInfo.InvariantCulture)} bytes: chatwire download {e.EventId:D} --out PATH]";

    // The key store of this profile when the device was set up (null otherwise: plaintext-only use keeps working).
    public static async Task<SecureClient?> OpenAsync(CommandContext context, ChatWireApiClient api)
    {
        var secure = context.CreateSecure(api);
        if (!secure.HasKeys)
        {
            secure.Dispose();
            return null;
        }

        try
        {
            await secure.SyncOwnKeysAsync(context.Cancellation).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SecureMessagingException or ChatWireException)
        {
            await context.Output.Stderr.WriteLineAsync($"chatwire: warning: {ex.Message}").ConfigureAwait(false);
        }

        return secure;
    }
}
