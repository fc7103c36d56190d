using System.Security.Cryptography;
using System.Text.RegularExpressions;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Identity;

/// <summary>What to create; a null password means "generate one and show it once".</summary>
public sealed record NewAccount(string Username, string DisplayName, AccountKind Kind, string? CommitteeRole = null, string? Password = null);

/// <summary>A created account with the password to hand over (generated, or the one given).</summary>
public sealed record CreatedAccount(Account Account, string Password);

/// <summary>Raised for a request that cannot be created as asked; the message says why.</summary>
public sealed class AccountRejectedException(string message) : Exception(message);

/// <summary>
/// Creates people's accounts and checks their passwords. Sign-in failures all look the same from
/// outside (unknown name, wrong password, locked), so the sign-in page cannot be used to find
/// out which usernames exist.
/// </summary>
public sealed partial class AccountService(
    AccountStore store,
    IAuditLog audit,
    IOptions<IdentitySettings> settings,
    TimeProvider time,
    ILogger<AccountService> logger)
{
    private static readonly PasswordHasher<Account> Hasher = new();

    // Verified against when the username is unknown, so that the answer takes as long as for a known one.
    private static readonly string DummyHash = Hasher.HashPassword(null!, "not-a-real-password-" + Guid.NewGuid());

    public const int MinPasswordLength = 12;

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{2,63}$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex UsernamePattern();

    public async Task<CreatedAccount> CreateAsync(NewAccount request, CancellationToken cancellationToken = default)
    {
        var username = request.Username.Trim();
        if (!UsernamePattern().IsMatch(username))
        {
            throw new AccountRejectedException("A username is 3 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
        var displayName = request.DisplayName.Trim();
        if (displayName.Length is 0 or > 200)
        {
            throw new AccountRejectedException("A display name is 1 to 200 characters.");
        }
        var role = request.CommitteeRole?.Trim().ToLowerInvariant();
        if (request.Kind == AccountKind.Committee && (role is null || !AccountKinds.CommitteeRoleNames.Contains(role)))
        {
            throw new AccountRejectedException($"A committee account needs a committee role: {string.Join(", ", AccountKinds.CommitteeRoleNames)}.");
        }
        if (request.Kind != AccountKind.Committee && role is not null)
        {
            throw new AccountRejectedException("Only committee accounts have a committee role.");
        }
        var password = request.Password ?? GeneratePassword();
        if (password.Length < MinPasswordLength)
        {
            throw new AccountRejectedException($"A password is at least {MinPasswordLength} characters.");
        }

        var account = new Account(Guid.NewGuid(), username, displayName, request.Kind, role, time.GetUtcNow(), 0, null);
        if (!await store.InsertAsync(account, Hasher.HashPassword(account, password), cancellationToken))
        {
            throw new AccountRejectedException("That username is already taken.");
        }
        LogAccountCreated(logger, account.Kind);
        return new CreatedAccount(account, password);
    }

    /// <summary>
    /// The account if the password is right and the account is not locked; otherwise null, after
    /// counting the failure (the last allowed failure locks the account for a while).
    /// </summary>
    public async Task<Account?> SignInAsync(string username, string password, CancellationToken cancellationToken = default)
    {
        var found = string.IsNullOrWhiteSpace(username) ? null : await store.FindByUsernameAsync(username, cancellationToken);
        // An erased account is no one: refused as an unknown name, and never named in the log
        // (naming it would give the erased person a new audit pseudonym).
        if (found is not { } entry || AccountStore.IsTombstone(entry.Account))
        {
            Hasher.VerifyHashedPassword(null!, DummyHash, password ?? "");
            await RecordFailureAsync(null, "unknown-username", cancellationToken);
            return null;
        }
        var (account, hash) = entry;
        var now = time.GetUtcNow();
        var verdict = Hasher.VerifyHashedPassword(account, hash, password ?? "");
        if (account.LockoutUntil is { } until && until > now)
        {
            await RecordFailureAsync(account, "locked", cancellationToken);
            return null;
        }
        if (verdict == PasswordVerificationResult.Failed)
        {
            var options = settings.Value;
            await store.RecordFailureAsync(account.Id, options.MaxFailedSignIns, now + options.LockoutDuration, cancellationToken);
            var reason = account.FailedAttempts + 1 >= options.MaxFailedSignIns ? "wrong-password-now-locked" : "wrong-password";
            await RecordFailureAsync(account, reason, cancellationToken);
            return null;
        }
        var rehashed = verdict == PasswordVerificationResult.SuccessRehashNeeded ? Hasher.HashPassword(account, password!) : null;
        await store.RecordSuccessAsync(account.Id, rehashed, cancellationToken);
        // Durable before the person gets their session: a sign-in that is not in the trail did not happen.
        await audit.AppendAsync(new AuditEntryDraft(AuditKinds.SignInSucceeded, ActorOf(account), SubjectRef: SubjectOf(account),
            Payload: new { method = "password", kind = account.Kind.ToText() }), cancellationToken);
        LogSignedIn(logger, account.Kind);
        return account with { FailedAttempts = 0, LockoutUntil = null };
    }

    /// <summary>The audit actor of a person: <c>resident:{id}</c>, <c>committee:{id}</c>, <c>auditor:{id}</c>, <c>operator:{id}</c>.</summary>
    public static string ActorOf(Account account) => $"{account.Kind.ToText()}:{account.Id}";

    /// <summary>Whose data an entry concerns: the resident's own reference; other people are actors, not subjects.</summary>
    public static string? SubjectOf(Account account) => account.Kind == AccountKind.Resident ? account.Id.ToString() : null;

    // The typed username is never recorded: it may be someone else's name or a mistyped password.
    private async Task RecordFailureAsync(Account? account, string reason, CancellationToken cancellationToken)
    {
        LogSignInFailed(logger, reason);
        // Whoever typed the password is anonymous; the account it was tried against is named by reference:
        // a resident as the entry's subject (the log writes their pseudonym), staff by their actor name.
        await audit.AppendAsync(new AuditEntryDraft(AuditKinds.SignInFailed, "anonymous",
            SubjectRef: account is null ? null : SubjectOf(account),
            Payload: new { method = "password", reason, account = account is null || account.Kind == AccountKind.Resident ? null : ActorOf(account) }), cancellationToken);
    }

    /// <summary>Whether the account may still be issued tokens (exists, is not erased and is not locked).</summary>
    public async Task<Account?> FindActiveAsync(Guid id, CancellationToken cancellationToken = default)
    {
        var account = await store.FindAsync(id, cancellationToken);
        return account is null || AccountStore.IsTombstone(account) || (account.LockoutUntil is { } until && until > time.GetUtcNow()) ? null : account;
    }

    public Task<IReadOnlyList<Account>> ListAsync(CancellationToken cancellationToken = default) => store.ListAsync(cancellationToken);

    /// <summary>One page of the accounts in (kind, username) order, and where the next page starts (null: none).</summary>
    public async Task<(IReadOnlyList<Account> Page, AccountPosition? Next)> ListAsync(AccountPosition? after, int limit, CancellationToken cancellationToken)
    {
        var (page, more) = Paging.Split(await store.ListAsync(after, limit + 1, cancellationToken), limit);
        return (page, more ? AccountPosition.Of(page[^1]) : null);
    }

    public Task<bool> UnlockAsync(Guid id, CancellationToken cancellationToken = default) => store.UnlockAsync(id, cancellationToken);

    /// <summary>A 24-character password from a 56-symbol alphabet without look-alikes (about 139 bits).</summary>
    public static string GeneratePassword()
    {
        const string alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        return RandomNumberGenerator.GetString(alphabet, 24);
    }

    // No username, id or address here: the audit log records sign-ins with pseudonymous references.
    [LoggerMessage(Level = LogLevel.Information, Message = "Account created: kind {Kind}")]
    private static partial void LogAccountCreated(ILogger logger, AccountKind kind);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in refused: {Reason}")]
    private static partial void LogSignInFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sign-in succeeded: kind {Kind}")]
    private static partial void LogSignedIn(ILogger logger, AccountKind kind);
}
