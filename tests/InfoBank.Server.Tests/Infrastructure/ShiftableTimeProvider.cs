namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>The system clock plus an offset a test can move forward (expiry, lockout, retention).</summary>
public sealed class ShiftableTimeProvider : TimeProvider
{
    public TimeSpan Offset { get; set; }

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
}
