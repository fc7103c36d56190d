using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace InfoBank.Server.Pages;

/// <summary>The demo portal client's redirect target: shows the code so the flow can be finished by hand (curl).</summary>
[AllowAnonymous]
public sealed class SignInCallbackModel : PageModel
{
    [BindProperty(SupportsGet = true, Name = "code")]
    public string? Code { get; set; }

    [BindProperty(SupportsGet = true, Name = "error")]
    public string? Error { get; set; }

    [BindProperty(SupportsGet = true, Name = "error_description")]
    public string? ErrorDescription { get; set; }

    public void OnGet()
    {
    }
}
