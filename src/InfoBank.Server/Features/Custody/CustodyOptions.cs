using System.ComponentModel.DataAnnotations;

namespace InfoBank.Server.Features.Custody;

/// <summary>Bound from the <c>Custody</c> configuration section.</summary>
public sealed class CustodyOptions
{
    public const string Section = "Custody";

    /// <summary>The file holding the key that encrypts the DataProtection key ring at rest (outside the database).</summary>
    [Required]
    public string MasterKeyFile { get; set; } = Path.Combine("data", "keys", "keyring-master.key");

    /// <summary>Most records in one deposit batch; more is a 413.</summary>
    [Range(1, 100_000)]
    public int MaxBatchRecords { get; set; } = 5_000;

    /// <summary>Largest deposit request body; more is a 413.</summary>
    [Range(1_024, 64L * 1024 * 1024)]
    public long MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>How far in the future an <c>observedAt</c> may be (clock skew between source and bank).</summary>
    [Range(0, 86_400)]
    public int ClockSkewSeconds { get; set; } = 300;

    /// <summary>Most residents whose unwrapped data keys are kept in memory.</summary>
    [Range(1, 10_000_000)]
    public int DekCacheSize { get; set; } = 10_000;

    /// <summary>How long an unwrapped data key stays in memory after it was loaded.</summary>
    [Range(1, 86_400)]
    public int DekCacheSeconds { get; set; } = 300;

    /// <summary>
    /// How long a retired data key is kept after rotation before it is destroyed, so that other nodes'
    /// caches (which may still seal with it) expire first. At least twice <see cref="DekCacheSeconds"/> in production.
    /// </summary>
    [Range(0, 30 * 86_400)]
    public int RetiredKeyGraceSeconds { get; set; } = 600;

    /// <summary>
    /// Erasure needs a sign-in at most this old (seconds): an access token taken from an unattended
    /// session must not be able to destroy a resident's data. Older answers 401 with an RFC 9470
    /// step-up challenge naming <c>max_age</c>, and the app signs the resident in again.
    /// </summary>
    [Range(30, 86_400)]
    public int ErasureMaxAuthAgeSeconds { get; set; } = 300;

    /// <summary>Rows deleted per statement by the erasure sweep.</summary>
    [Range(1, 100_000)]
    public int SweepBatchSize { get; set; } = 5_000;

    /// <summary>
    /// Rows the retention job deletes per transaction: small enough that a deposit waiting behind a
    /// batch (SQLite has one writer) waits milliseconds, large enough that a million expired records
    /// go in minutes.
    /// </summary>
    [Range(1, 100_000)]
    public int RetentionBatchSize { get; set; } = 1_000;
}
