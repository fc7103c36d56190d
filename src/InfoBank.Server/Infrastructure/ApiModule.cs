namespace InfoBank.Server.Infrastructure;

/// <summary>
/// Endpoints an embedding host adds beside the product's own, which the composition root maps by
/// name (<c>MapXxxApi</c>). The tests use it to probe the shared middleware; production registers none.
/// They are mapped after the shared middleware, so they get the same error handling, body limits and
/// authorization as every route.
/// </summary>
public interface IApiModule
{
    void MapEndpoints(IEndpointRouteBuilder routes);
}
