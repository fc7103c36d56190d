using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Web;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.EntityFrameworkCore.Models;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace InfoBank.Server.Features.Identity;

/// <summary>A registered machine client with its secret, which is shown this once and stored only hashed.</summary>
public sealed record CreatedClient(string ClientId, string ClientSecret, string DisplayName, ClientKind Kind);

/// <summary>
/// Registers OAuth clients as OpenIddict applications and answers <see cref="IClientDirectory"/>.
/// Machine clients (businesses, data sources) are confidential, use client credentials and may
/// ask only for their kind's scope. People's apps are public clients using the authorization code
/// with PKCE and refresh tokens. The kind is kept in the application's properties.
/// </summary>
public sealed partial class ClientRegistry(IOpenIddictApplicationManager applications, IdentityDbContext identity) : IClientDirectory
{
    private const string KindProperty = "infobank_kind";
    private const string PeopleAppKind = "people-app";

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{2,99}$", RegexOptions.CultureInvariant)]
    private static partial Regex ClientIdPattern();

    public async Task<CreatedClient> RegisterMachineClientAsync(ClientKind kind, string displayName, string? clientId = null, CancellationToken cancellationToken = default)
    {
        displayName = displayName.Trim();
        if (displayName.Length is 0 or > 200)
        {
            throw new ClientRejectedException("A display name is 1 to 200 characters.");
        }
        clientId ??= $"{kind.ToText()}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        await EnsureFreeAsync(clientId, cancellationToken);

        var secret = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientSecret = secret,
            ClientType = ClientTypes.Confidential,
            DisplayName = displayName,
            Permissions =
            {
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Introspection,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.ClientCredentials,
                Permissions.Prefixes.Scope + kind.Scope(),
            },
        };
        descriptor.Properties[KindProperty] = JsonSerializer.SerializeToElement(kind.ToText());
        await applications.CreateAsync(descriptor, cancellationToken);
        return new CreatedClient(clientId, secret, displayName, kind);
    }

    /// <summary>
    /// A public client through which people sign in (a portal, a mobile app, the test harness):
    /// code flow with PKCE only, refresh tokens, the four person scopes (the account's kind decides
    /// which one it actually gets) and <c>profile</c>; RP-initiated logout, returning only to one of
    /// <paramref name="postLogoutRedirectUris"/>.
    /// </summary>
    public async Task RegisterPeopleAppAsync(string clientId, string displayName, IEnumerable<Uri> redirectUris,
        IEnumerable<Uri> postLogoutRedirectUris, CancellationToken cancellationToken = default)
    {
        await EnsureFreeAsync(clientId, cancellationToken);
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Public,
            ConsentType = ConsentTypes.Implicit,
            DisplayName = displayName,
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.Endpoints.Revocation,
                Permissions.Endpoints.EndSession,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.GrantTypes.RefreshToken,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Profile,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        foreach (var scope in AccountKinds.PersonScopes)
        {
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + scope);
        }
        foreach (var uri in redirectUris)
        {
            descriptor.RedirectUris.Add(CheckedRedirectUri(uri));
        }
        if (descriptor.RedirectUris.Count == 0)
        {
            throw new ClientRejectedException("A people app needs at least one redirect URI.");
        }
        foreach (var uri in postLogoutRedirectUris)
        {
            descriptor.PostLogoutRedirectUris.Add(CheckedRedirectUri(uri));
        }
        descriptor.Properties[KindProperty] = JsonSerializer.SerializeToElement(PeopleAppKind);
        await applications.CreateAsync(descriptor, cancellationToken);
    }

    /// <summary>A people app without a post-logout redirect URI: logout ends on the server's own signed-out page.</summary>
    public Task RegisterPeopleAppAsync(string clientId, string displayName, IEnumerable<Uri> redirectUris, CancellationToken cancellationToken = default) =>
        RegisterPeopleAppAsync(clientId, displayName, redirectUris, [], cancellationToken);

    private static Uri CheckedRedirectUri(Uri uri) => uri.IsAbsoluteUri && string.IsNullOrEmpty(uri.Fragment)
        ? uri
        : throw new ClientRejectedException("A redirect URI is absolute and has no fragment.");

    public async Task<bool> ExistsAsync(string clientId, CancellationToken cancellationToken = default) =>
        await applications.FindByClientIdAsync(clientId, cancellationToken) is not null;

    public async Task<RegisteredClient?> FindAsync(string clientId, CancellationToken cancellationToken = default)
    {
        var application = await applications.FindByClientIdAsync(clientId, cancellationToken);
        return application is null ? null : await DescribeAsync(application, cancellationToken);
    }

    public async Task<IReadOnlyList<RegisteredClient>> ListAsync(ClientKind kind, CancellationToken cancellationToken = default) =>
        (await ListAllAsync(cancellationToken)).Where(c => c.Kind == kind).ToList();

    /// <summary>Every machine client (people apps are not part of the directory other features see).</summary>
    public async Task<IReadOnlyList<RegisteredClient>> ListAllAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<RegisteredClient>();
        await foreach (var application in applications.ListAsync(count: null, offset: null, cancellationToken))
        {
            if (await DescribeAsync(application, cancellationToken) is { } client)
            {
                result.Add(client);
            }
        }
        return result.OrderBy(c => c.Kind).ThenBy(c => c.ClientId, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// One page of the machine clients in client-id order after <paramref name="after"/>, and the
    /// client id the next page starts after (null: none). The keyset is on the indexed ClientId
    /// column; people apps, told apart only by a property, are skipped as the rows are read.
    /// </summary>
    public async Task<(IReadOnlyList<RegisteredClient> Page, string? NextAfter)> ListAsync(string? after, int limit, CancellationToken cancellationToken = default)
    {
        var found = new List<RegisteredClient>(limit + 1);
        var from = after;
        while (found.Count <= limit)
        {
            var batch = await identity.Set<OpenIddictEntityFrameworkCoreApplication>().AsNoTracking()
                .Where(a => from == null || string.Compare(a.ClientId, from) > 0)
                .OrderBy(a => a.ClientId).Take(limit + 1).ToListAsync(cancellationToken);
            foreach (var application in batch)
            {
                if (found.Count <= limit && await DescribeAsync(application, cancellationToken) is { } client)
                {
                    found.Add(client);
                }
            }
            if (batch.Count <= limit)
            {
                break;
            }
            from = batch[^1].ClientId;
        }
        var (page, more) = Paging.Split(found, limit);
        return (page, more ? page[^1].ClientId : null);
    }

    /// <summary>The machine-client kind of an application, or null for a people app.</summary>
    public async Task<ClientKind?> KindOfAsync(object application, CancellationToken cancellationToken)
    {
        var properties = await applications.GetPropertiesAsync(application, cancellationToken);
        return properties.TryGetValue(KindProperty, out var value) && value.ValueKind == JsonValueKind.String
            && ClientKinds.TryParse(value.GetString(), out var kind)
            ? kind
            : null;
    }

    private async Task<RegisteredClient?> DescribeAsync(object application, CancellationToken cancellationToken)
    {
        if (await KindOfAsync(application, cancellationToken) is not { } kind)
        {
            return null;
        }
        var clientId = await applications.GetClientIdAsync(application, cancellationToken) ?? "";
        var name = await applications.GetDisplayNameAsync(application, cancellationToken) ?? clientId;
        return new RegisteredClient(clientId, name, kind);
    }

    private async Task EnsureFreeAsync(string clientId, CancellationToken cancellationToken)
    {
        if (!ClientIdPattern().IsMatch(clientId))
        {
            throw new ClientRejectedException("A client id is 3 to 100 characters: lower-case letters, digits, '.', '_' or '-'.");
        }
        if (await ExistsAsync(clientId, cancellationToken))
        {
            throw new ClientRejectedException("That client id is already registered.");
        }
    }
}

/// <summary>Raised for a client that cannot be registered as asked; the message says why.</summary>
public sealed class ClientRejectedException(string message) : Exception(message);
