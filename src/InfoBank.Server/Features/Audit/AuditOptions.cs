using System.ComponentModel.DataAnnotations;

namespace InfoBank.Server.Features.Audit;

/// <summary>Bound from the <c>Audit</c> configuration section.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>
    /// The log's origin line in checkpoints and the name of its signing key: a schema-less URL
    /// with no spaces or '+', unique to this deployment.
    /// </summary>
    [Required]
    [RegularExpression(@"^[^\s+]+$", ErrorMessage = "Audit:Origin must contain no whitespace and no '+'.")]
    public string Origin { get; set; } = "infobank.local/audit";

    /// <summary>Most entries written in one transaction by the group-commit writer.</summary>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = 512;

    /// <summary>How often the checkpoint job runs (seconds); it signs only when the log has grown.</summary>
    [Range(1, 3600)]
    public int CheckpointIntervalSeconds { get; set; } = 5;
}
