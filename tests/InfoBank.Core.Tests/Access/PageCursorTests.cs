using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Access;

public sealed class PageCursorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static readonly PageCursors Cursors = new(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(15), TimeSpan.FromHours(6));
    private static readonly Guid Grant = Guid.NewGuid();
    private static readonly byte[] Query = PageCursors.QueryHash("records", "steps.daily", "v3");

    private static CursorState State(string position = "0b7c2a4e-39f1-4c55-9a0e-5a3f0f6c1d22/17") =>
        new(Grant, "fitness-club", Guid.NewGuid(), Now.AddMinutes(-30), 400, position, Now, Query);

    [Fact]
    public void Round_trips_every_member()
    {
        var state = State();
        var read = Cursors.Read(Cursors.Issue(state), Grant, "fitness-club", Query, Now.AddMinutes(5));
        Assert.True(read.IsValid, read.Message);
        var got = read.State!;
        Assert.Equal(state.GrantId, got.GrantId);
        Assert.Equal(state.Recipient, got.Recipient);
        Assert.Equal(state.FetchId, got.FetchId);
        Assert.Equal(state.FetchStartedAt, got.FetchStartedAt);
        Assert.Equal(state.Served, got.Served);
        Assert.Equal(state.Position, got.Position);
        Assert.Equal(state.IssuedAt, got.IssuedAt);
        Assert.Equal(state.QueryHash, got.QueryHash);
    }

    [Fact]
    public void Hides_the_internal_position()
    {
        var position = "0b7c2a4e-39f1-4c55-9a0e-5a3f0f6c1d22";
        var token = Cursors.Issue(State(position));
        var bytes = Base64Url.TryDecode(token)!;
        Assert.DoesNotContain(position, Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        Assert.DoesNotContain("fitness-club", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
    }

    public static TheoryData<string, CursorRejection> Misuses => new()
    {
        { "garbage", CursorRejection.Malformed },
        { "truncated", CursorRejection.Malformed },
        { "other key", CursorRejection.Forged },
        { "made up", CursorRejection.Forged },
        { "other recipient", CursorRejection.WrongRecipient },
        { "other grant", CursorRejection.WrongGrant },
        { "other query", CursorRejection.QueryMismatch },
        { "stale page", CursorRejection.Expired },
        { "endless fetch", CursorRejection.FetchExpired },
        { "from the future", CursorRejection.NotYetValid },
    };

    [Theory]
    [MemberData(nameof(Misuses))]
    public void Refuses_each_misuse_with_its_own_reason(string misuse, CursorRejection expected)
    {
        var token = Cursors.Issue(State());
        var (presented, grant, recipient, query, at) = misuse switch
        {
            "garbage" => ("not a cursor!", Grant, "fitness-club", Query, Now),
            "truncated" => (token[..20], Grant, "fitness-club", Query, Now),
            "other key" => (new PageCursors(RandomNumberGenerator.GetBytes(32), TimeSpan.FromMinutes(15), TimeSpan.FromHours(6)).Issue(State()), Grant, "fitness-club", Query, Now),
            "made up" => (Base64Url.Encode(RandomNumberGenerator.GetBytes(140)), Grant, "fitness-club", Query, Now),
            "other recipient" => (token, Grant, "shopping-mall", Query, Now),
            "other grant" => (token, Guid.NewGuid(), "fitness-club", Query, Now),
            "other query" => (token, Grant, "fitness-club", PageCursors.QueryHash("records", "steps.daily", "v4"), Now),
            "stale page" => (token, Grant, "fitness-club", Query, Now.AddMinutes(16)),
            "endless fetch" => (Cursors.Issue(State() with { FetchStartedAt = Now.AddHours(-7) }), Grant, "fitness-club", Query, Now),
            _ => (Cursors.Issue(State() with { IssuedAt = Now.AddHours(1) }), Grant, "fitness-club", Query, Now),
        };
        var read = Cursors.Read(presented, grant, recipient, query, at);
        Assert.False(read.IsValid);
        Assert.Equal(expected, read.Rejection);
        Assert.NotEqual(new CursorReadResult(null, null).Message, read.Message);
    }

    [Fact]
    public void Each_reason_has_a_distinct_message()
    {
        var messages = Enum.GetValues<CursorRejection>().Select(r => new CursorReadResult(null, r).Message).ToList();
        Assert.Equal(messages.Count, messages.Distinct().Count());
    }

    [Property(MaxTest = 300)]
    public Property Any_altered_byte_is_refused(PositiveInt at, byte mask)
    {
        var bytes = Base64Url.TryDecode(Cursors.Issue(State()))!;
        bytes[at.Get % bytes.Length] ^= mask == 0 ? (byte)1 : mask;
        var read = Cursors.Read(Base64Url.Encode(bytes), Grant, "fitness-club", Query, Now);
        return (read.Rejection is CursorRejection.Forged or CursorRejection.Malformed).ToProperty();
    }

    [Fact]
    public void Query_hash_parts_cannot_run_together()
    {
        Assert.NotEqual(PageCursors.QueryHash("ab", "c"), PageCursors.QueryHash("a", "bc"));
        Assert.Equal(PageCursors.QueryHash("a", "bc"), PageCursors.QueryHash("a", "bc"));
    }
}
