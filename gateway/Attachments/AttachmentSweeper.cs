using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;

namespace ChatWire.Gateway.Attachments;

/// <summary>
/// Deletes uploads never completed once their grant has been expired for an hour (blob and row), so that an
/// abandoned upload neither keeps its bytes nor counts against its owner's quota for ever; and the attachments of
/// deleted teams' channels, which nobody can read any more.
/// </summary>
internal sealed class AttachmentSweeper(AttachmentService attachments, IOptions<AttachmentsOptions> options, TimeProvider time, ILogger<AttachmentSweeper> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.SweepIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    var deleted = await attachments.SweepAsync(time.GetUtcNow(), stoppingToken);
                    if (deleted > 0)
                    {
                        GatewayLog.AttachmentsSwept(logger, deleted);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    GatewayLog.AttachmentSweepFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
