using InfoBank.Server.Infrastructure.Auth;

namespace InfoBank.Server.Features.Identity;

/// <summary>The kinds of person who sign in; each maps to exactly one scope.</summary>
public enum AccountKind
{
    Resident,
    Committee,
    Auditor,
    Operator,
}

/// <summary>A person's account as stored; the password hash never leaves the identity feature.</summary>
public sealed record Account(
    Guid Id,
    string Username,
    string DisplayName,
    AccountKind Kind,
    string? CommitteeRole,
    DateTimeOffset CreatedAt,
    int FailedAttempts,
    DateTimeOffset? LockoutUntil);

/// <summary>The names our SQL, scopes and claims use for each kind.</summary>
public static class AccountKinds
{
    public static readonly IReadOnlyList<string> PersonScopes =
        [AuthPolicies.Resident, AuthPolicies.Committee, AuthPolicies.Auditor, AuthPolicies.Operator];

    public static readonly IReadOnlyList<string> CommitteeRoleNames =
        [CommitteeRoles.Secretariat, CommitteeRoles.Member, CommitteeRoles.Chair];

    public static string ToText(this AccountKind kind) => kind switch
    {
        AccountKind.Resident => "resident",
        AccountKind.Committee => "committee",
        AccountKind.Auditor => "auditor",
        AccountKind.Operator => "operator",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static AccountKind Parse(string text) => TryParse(text, out var kind)
        ? kind
        : throw new FormatException($"Unknown account kind '{text}'.");

    public static bool TryParse(string? text, out AccountKind kind)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "resident": kind = AccountKind.Resident; return true;
            case "committee": kind = AccountKind.Committee; return true;
            case "auditor" or "audit": kind = AccountKind.Auditor; return true;
            case "operator": kind = AccountKind.Operator; return true;
            default: kind = default; return false;
        }
    }

    /// <summary>The one scope a person of this kind may be granted.</summary>
    public static string Scope(this AccountKind kind) => kind switch
    {
        AccountKind.Resident => AuthPolicies.Resident,
        AccountKind.Committee => AuthPolicies.Committee,
        AccountKind.Auditor => AuthPolicies.Auditor,
        AccountKind.Operator => AuthPolicies.Operator,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>The names used for each kind of machine client.</summary>
public static class ClientKinds
{
    public static string ToText(this ClientKind kind) => kind switch
    {
        ClientKind.Business => "business",
        ClientKind.DataSource => "source",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static bool TryParse(string? text, out ClientKind kind)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "business": kind = ClientKind.Business; return true;
            case "source" or "datasource" or "data-source": kind = ClientKind.DataSource; return true;
            default: kind = default; return false;
        }
    }

    /// <summary>The one scope a client of this kind may be granted.</summary>
    public static string Scope(this ClientKind kind) => kind switch
    {
        ClientKind.Business => AuthPolicies.Business,
        ClientKind.DataSource => AuthPolicies.DataSource,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
