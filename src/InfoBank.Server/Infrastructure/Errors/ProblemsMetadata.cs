namespace InfoBank.Server.Infrastructure.Errors;

/// <summary>
/// The specific problem types an endpoint answers with, beyond the generic ones every endpoint of
/// its kind can give (malformed body, authentication, rate limit, storage). The OpenAPI document
/// lists them per status, so a client learns each <c>type</c> it must handle from the document alone.
/// </summary>
public sealed class ProblemsMetadata(IReadOnlyList<ProblemType> types)
{
    public IReadOnlyList<ProblemType> Types { get; } = types;
}

public static class ProblemsMetadataExtensions
{
    /// <summary>
    /// Names the problem types the endpoint's handler and the service it calls can return. Every
    /// endpoint states them, none included: a route without this is caught by the OpenAPI tests.
    /// </summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params ProblemType[] types)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ProblemsMetadata(types));
}
