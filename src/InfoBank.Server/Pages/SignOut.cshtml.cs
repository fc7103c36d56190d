using InfoBank.Server.Features.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace InfoBank.Server.Pages;

/// <summary>
/// Sign-out: where /connect/endsession asks a signed-in person to confirm a logout that came without
/// an id_token_hint for them (the form posts back to /connect/endsession with an anti-forgery
/// token), and where a logout without a post-logout redirect URI ends.
/// </summary>
[AllowAnonymous]
public sealed class SignOutModel : PageModel
{
    [BindProperty(SupportsGet = true, Name = "client_id")]
    public string? ClientId { get; set; }

    [BindProperty(SupportsGet = true, Name = "post_logout_redirect_uri")]
    public string? PostLogoutRedirectUri { get; set; }

    [BindProperty(SupportsGet = true, Name = "state")]
    public string? State { get; set; }

    [BindProperty(SupportsGet = true, Name = "ui_locales")]
    public string? UiLocales { get; set; }

    [BindProperty(SupportsGet = true, Name = "done")]
    public bool Done { get; set; }

    /// <summary>Whether to ask: someone is signed in and this is not the page after signing out.</summary>
    public bool AskToConfirm { get; private set; }

    public async Task OnGetAsync() =>
        AskToConfirm = !Done && (await HttpContext.AuthenticateAsync(IdentitySetup.SignInScheme)).Succeeded;
}
