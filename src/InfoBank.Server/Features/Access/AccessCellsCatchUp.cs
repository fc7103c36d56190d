using InfoBank.Server.Infrastructure.Jobs;

namespace InfoBank.Server.Features.Access;

/// <summary>
/// Frozen aggregate cells released before they were binned held each resident's values (sorted,
/// for exact medians): values that outlive an erasure and can be matched to a resident who knows
/// their own. Right after each start they are rewritten as counts, sums and bins
/// (<see cref="AccessStore.ReencodeRawCellsAsync"/>); nothing is released or recomputed.
/// </summary>
internal sealed partial class AccessCellsCatchUp(ILogger<AccessCellsCatchUp> logger) : IStartupCatchUp
{
    public string Name => "access-rebin-frozen-cells";

    public async Task RunAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var rewritten = await services.GetRequiredService<AccessStore>().ReencodeRawCellsAsync(cancellationToken);
        if (rewritten > 0)
        {
            LogRewritten(logger, rewritten);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rewrote {Count} frozen aggregate cells as counts, sums and bins")]
    private static partial void LogRewritten(ILogger logger, int count);
}
