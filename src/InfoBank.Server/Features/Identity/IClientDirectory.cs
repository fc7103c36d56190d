namespace InfoBank.Server.Features.Identity;

/// <summary>The kinds of registered machine client.</summary>
public enum ClientKind
{
    /// <summary>A business that applies for and receives data (scope <c>business</c>).</summary>
    Business,

    /// <summary>An app or system that deposits residents' data (scope <c>deposit</c>).</summary>
    DataSource,
}

/// <summary>A registered OAuth client as other features see it: no secrets, just who it is.</summary>
public sealed record RegisteredClient(string ClientId, string DisplayName, ClientKind Kind);

/// <summary>
/// Looks up registered machine clients, so features can check that a client id named in a request
/// (a data source a resident links, a recipient of a grant) exists and is of the right kind.
/// </summary>
public interface IClientDirectory
{
    Task<RegisteredClient?> FindAsync(string clientId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<RegisteredClient>> ListAsync(ClientKind kind, CancellationToken cancellationToken = default);
}
