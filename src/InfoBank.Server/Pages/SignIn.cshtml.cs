using InfoBank.Server.Features.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace InfoBank.Server.Pages;

/// <summary>
/// The people's sign-in form (anti-forgery checked by Razor Pages on every POST). One message for
/// every failure, so the form does not tell whether a username exists or is locked.
/// </summary>
[AllowAnonymous]
public sealed class SignInModel(AccountService accounts, TimeProvider time) : PageModel
{
    public const string FailureMessage =
        "The username or password is not right, or the account is locked for a while after repeated failures.";

    [BindProperty]
    public string Username { get; set; } = "";

    [BindProperty]
    public string Password { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public string? Error { get; private set; }

    public string? SignedInAs { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(CancellationToken cancellationToken)
    {
        var account = await accounts.SignInAsync(Username, Password, cancellationToken);
        Password = "";
        if (account is null)
        {
            Error = FailureMessage;
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
        await HttpContext.SignInAsync(IdentitySetup.SignInScheme, IdentityClaims.ForSignInCookie(account, IdentitySetup.SignInScheme, time.GetUtcNow()));
        if (!string.IsNullOrEmpty(ReturnUrl) && Url.IsLocalUrl(ReturnUrl))
        {
            return LocalRedirect(ReturnUrl);
        }
        SignedInAs = account.DisplayName;
        return Page();
    }
}
