namespace InfoBank.Server.Infrastructure;

/// <summary>
/// A feature's HTTP surface. Each feature's <c>AddXxx</c> registers its module; the host maps every
/// registered module once, after the shared middleware, so all routes get the same error handling,
/// body limits and authorization.
/// </summary>
public interface IApiModule
{
    void MapEndpoints(IEndpointRouteBuilder routes);
}
