using System.ComponentModel.DataAnnotations;
using InfoBank.Server.Infrastructure.Web;

namespace InfoBank.Server.Features.Access;

/// <summary>Bound from the <c>Access</c> configuration section.</summary>
public sealed class AccessOptions
{
    public const string Section = "Access";

    /// <summary>
    /// The file holding the secret the pseudonym and cursor keys are derived from (created on first
    /// use, owner-only). Outside the database: a database copy alone cannot link pseudonyms to residents.
    /// </summary>
    [Required]
    public string SecretFile { get; set; } = Path.Combine("data", "keys", "access.key");

    /// <summary>Records on a page when the request names no limit (the list convention's default).</summary>
    [Range(1, Paging.MaxLimit)]
    public int DefaultPageSize { get; set; } = Paging.DefaultLimit;

    /// <summary>Most records a page may ask for (<c>?limit=</c>); never above the list convention's maximum.</summary>
    [Range(1, Paging.MaxLimit)]
    public int MaxPageSize { get; set; } = Paging.MaxLimit;

    /// <summary>Rows one page may examine, as a multiple of its size, before it returns short with a cursor.</summary>
    [Range(1, 1_000)]
    public int ExamineFactor { get; set; } = 10;

    /// <summary>How long a page's cursor stays usable.</summary>
    [Range(1, 1_440)]
    public int CursorMinutes { get; set; } = 15;

    /// <summary>How long one fetch (a pass through the pages) may last.</summary>
    [Range(1, 168)]
    public int FetchHours { get; set; } = 24;

    /// <summary>How long after a week closes its aggregate cells are released (late deposits first).</summary>
    [Range(0, 720)]
    public int AggregateSettleHours { get; set; } = 48;

    /// <summary>The UTC offset of time buckets (Sapporo: +9).</summary>
    [Range(-12, 14)]
    public int BucketUtcOffsetHours { get; set; } = 9;
}
