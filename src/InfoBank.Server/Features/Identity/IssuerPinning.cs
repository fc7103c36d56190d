using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Keeps the Host header from choosing what discovery and tokens say about the server:
/// <see cref="IssuerIsPinned"/> refuses to start without a pinned issuer (or a host allow-list),
/// and <see cref="DiscoveryEndpointsDescriptor"/> builds discovery's endpoint URLs on the pinned
/// issuer, where OpenIddict would build them on the request's own host even with the issuer set.
/// </summary>
internal static class IssuerPinning
{
    public static OpenIddictServerHandlerDescriptor DiscoveryEndpointsDescriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<DiscoveryEndpointsHandler>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachEndpoints.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    /// <summary>Fills the endpoint URLs before OpenIddict's own handler, which only fills those left empty.</summary>
    internal sealed class DiscoveryEndpointsHandler : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            if (context.Options.Issuer is not { } issuer)
            {
                return default;
            }
            var root = issuer.AbsoluteUri.EndsWith('/') ? issuer : new Uri(issuer.AbsoluteUri + "/");
            Uri? On(IReadOnlyList<Uri> endpoints) => endpoints.FirstOrDefault() is { } endpoint
                ? endpoint.IsAbsoluteUri ? endpoint : new Uri(root, endpoint.OriginalString.TrimStart('/'))
                : null;
            var options = context.Options;
            context.AuthorizationEndpoint ??= On(options.AuthorizationEndpointUris);
            context.TokenEndpoint ??= On(options.TokenEndpointUris);
            context.IntrospectionEndpoint ??= On(options.IntrospectionEndpointUris);
            context.RevocationEndpoint ??= On(options.RevocationEndpointUris);
            context.UserInfoEndpoint ??= On(options.UserInfoEndpointUris);
            context.EndSessionEndpoint ??= On(options.EndSessionEndpointUris);
            context.JsonWebKeySetEndpoint ??= On(options.JsonWebKeySetEndpointUris);
            context.DeviceAuthorizationEndpoint ??= On(options.DeviceAuthorizationEndpointUris);
            context.PushedAuthorizationEndpoint ??= On(options.PushedAuthorizationEndpointUris);
            return default;
        }
    }
}

/// <summary>
/// Without <c>Identity:Issuer</c>, OpenIddict takes the issuer from each request's Host header, so
/// anyone can make discovery and new tokens name a host of their choosing. Outside Development and
/// the tests (environment "Testing") the server therefore refuses to start unless the issuer is set
/// or <c>AllowedHosts</c> limits the Host header to known names.
/// </summary>
internal sealed class IssuerIsPinned(IHostEnvironment environment, IConfiguration configuration) : IValidateOptions<IdentitySettings>
{
    public ValidateOptionsResult Validate(string? name, IdentitySettings options)
    {
        if (options.Issuer is { } issuer)
        {
            return issuer.IsAbsoluteUri && string.IsNullOrEmpty(issuer.Query) && string.IsNullOrEmpty(issuer.Fragment)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail($"{IdentitySettings.Section}:Issuer must be an absolute URL without query or fragment, for example https://infobank.example.jp/.");
        }
        if (environment.IsDevelopment() || environment.IsEnvironment("Testing"))
        {
            return ValidateOptionsResult.Success;
        }
        var hosts = (configuration["AllowedHosts"] ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return hosts.Length > 0 && !hosts.Contains("*")
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"{IdentitySettings.Section}:Issuer is not set and AllowedHosts is '{configuration["AllowedHosts"]}', so the token issuer would be taken from "
                + "each request's Host header. Set Identity:Issuer to the server's public URL (for example Identity__Issuer=https://infobank.example.jp/), "
                + "or set AllowedHosts to the host names it is reached by.");
    }
}
