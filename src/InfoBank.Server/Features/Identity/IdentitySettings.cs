using System.ComponentModel.DataAnnotations;

namespace InfoBank.Server.Features.Identity;

/// <summary>Bound from the <c>Identity</c> configuration section.</summary>
public sealed class IdentitySettings
{
    public const string Section = "Identity";

    /// <summary>
    /// Serve the OAuth endpoints over plain HTTP. Only for loopback development (scripts/run.sh
    /// on 127.0.0.1) and tests; in production TLS terminates in Kestrel or a proxy and this stays off.
    /// </summary>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>
    /// The issuer URI (the <c>iss</c> of every token and the base of discovery). Empty means the
    /// request's own base address, which the Host header chooses: only Development and the tests
    /// may run that way with AllowedHosts <c>*</c> (<see cref="IssuerPinning"/>).
    /// </summary>
    public Uri? Issuer { get; set; }

    [Range(typeof(TimeSpan), "00:01:00", "01:00:00")]
    public TimeSpan PersonAccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    [Range(typeof(TimeSpan), "00:01:00", "01:00:00")]
    public TimeSpan MachineAccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(10);

    [Range(typeof(TimeSpan), "00:05:00", "30.00:00:00")]
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(8);

    [Range(typeof(TimeSpan), "00:00:30", "00:10:00")]
    public TimeSpan AuthorizationCodeLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long the sign-in cookie lasts; it only carries a person to the authorization endpoint (and the jobs dashboard).</summary>
    [Range(typeof(TimeSpan), "00:01:00", "08:00:00")]
    public TimeSpan SignInSessionLifetime { get; set; } = TimeSpan.FromMinutes(30);

    [Range(1, 100)]
    public int MaxFailedSignIns { get; set; } = 5;

    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);
}
