using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace InfoBank.Server.Infrastructure.Health;

/// <summary>
/// The readiness body: the overall status alone when healthy (what probes compare), and then one
/// line per failing check with its description, so whoever looks sees why (for example a halted
/// audit checkpoint signer). Descriptions are written to be public: no secrets, no personal data.
/// </summary>
public static class HealthResponse
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        var lines = new List<string> { report.Status.ToString() };
        foreach (var (name, entry) in report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            lines.Add($"{name}: {entry.Status}: {entry.Description}");
        }
        return context.Response.WriteAsync(string.Join('\n', lines), context.RequestAborted);
    }
}
