"""Realistic Outlook HTML bodies (a few KB, with a Teams join block).

They exist so that leaving bodies out (`$select`, Calendars.ReadBasic) makes a
measurable difference, as it does against the real service.
"""
from __future__ import annotations

import html
import random
import re

_HEAD = ('<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
         '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\r\n'
         '<style><!--\r\n@font-face {font-family:"Cambria Math";}\r\n@font-face {font-family:Aptos;}\r\n'
         'p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm;font-size:12.0pt;'
         'font-family:"Aptos",sans-serif;}\r\na:link, span.MsoHyperlink {color:#467886;'
         'text-decoration:underline;}\r\n.MsoChpDefault {font-size:10.0pt;}\r\n'
         '@page WordSection1 {size:612.0pt 792.0pt;margin:72.0pt 72.0pt 72.0pt 72.0pt;}\r\n'
         'div.WordSection1 {page:WordSection1;}\r\n--></style></head>\r\n'
         '<body lang="EN-US" link="#467886" vlink="#96607D" style="word-wrap:break-word">\r\n'
         '<div class="WordSection1">\r\n')

_TEAMS = (
    '<div style="width:100%"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">'
    '________________________________________________________________________________</span></div>\r\n'
    '<div class="me-email-text" lang="en-US" style="color:#242424;font-family:\'Segoe UI\','
    '\'Helvetica Neue\',Helvetica,Arial,sans-serif">\r\n'
    '<div style="margin-top:24px;margin-bottom:20px"><span style="font-size:24px;color:#252424">'
    'Microsoft Teams meeting</span></div>\r\n'
    '<div style="margin-bottom:20px"><div style="margin-top:0px;margin-bottom:0px;font-weight:bold">'
    '<span style="font-size:14px;color:#252424">Join on your computer, mobile app or room device'
    '</span></div>\r\n<a class="me-email-headline" href="{url}" target="_blank" '
    'rel="noreferrer noopener" style="font-size:14px;font-family:\'Segoe UI Semibold\',\'Segoe UI\','
    '\'Helvetica Neue\',Helvetica,Arial,sans-serif;text-decoration:underline;color:#6264a7">'
    'Click here to join the meeting</a></div>\r\n'
    '<div style="margin-bottom:20px;margin-top:20px"><div style="margin-bottom:4px">'
    '<span data-tid="meeting-code" style="font-size:14px;color:#252424">Meeting ID: '
    '<span style="font-size:16px;color:#252424">{mid}</span></span><br>\r\n'
    '<span style="font-size:14px;color:#252424">Passcode: </span><span style="font-size:16px;'
    'color:#252424">{code}</span></div>\r\n<div style="font-size:14px"><a class="me-email-link" '
    'style="font-size:14px;text-decoration:underline;color:#6264a7" target="_blank" '
    'href="https://www.microsoft.com/en-us/microsoft-teams/download-app" rel="noreferrer noopener">'
    'Download Teams</a> | <a class="me-email-link" style="font-size:14px;text-decoration:underline;'
    'color:#6264a7" target="_blank" href="https://www.microsoft.com/microsoft-teams/join-a-meeting" '
    'rel="noreferrer noopener">Join on the web</a></div></div>\r\n'
    '<div style="margin-bottom:24px;margin-top:20px"><a class="me-email-link" target="_blank" '
    'href="https://aka.ms/JoinTeamsMeeting" rel="noreferrer noopener" style="font-size:14px;'
    'text-decoration:underline;color:#6264a7">Learn More</a> | <a class="me-email-link" '
    'target="_blank" href="https://teams.microsoft.com/meetingOptions/?organizerId={oid}'
    '&amp;tenantId={tid}&amp;threadId=19_meeting_{mid_compact}@thread.v2&amp;messageId=0'
    '&amp;language=en-US" rel="noreferrer noopener" style="font-size:14px;'
    'text-decoration:underline;color:#6264a7">Meeting options</a></div>\r\n</div>\r\n'
    '<div style="font-size:14px;margin-bottom:4px;font-family:\'Segoe UI\',\'Helvetica Neue\','
    'Helvetica,Arial,sans-serif">\r\n</div>\r\n<div style="font-size:12px">\r\n</div>\r\n'
    '<div style="width:100%"><span style="white-space:nowrap;color:#5F5F5F;opacity:.36">'
    '________________________________________________________________________________</span></div>\r\n')

AGENDAS = {
    "one_on_one": ["Wins since last time", "What is blocking you right now",
                   "Priorities for the next two weeks", "Career growth and learning",
                   "Feedback, both ways", "Anything on your mind"],
    "team": ["Round the table: status and risks", "Metrics review", "Upcoming launches",
             "Hiring update", "Decisions needed this week", "AOB"],
    "review": ["Context and goals", "Open questions", "Next steps and owners"],
}
_INTROS = {
    "one_on_one": "Our regular 1:1. Add anything you want to talk about to the shared notes "
                  "beforehand; we will start with your topics.",
    "team": "Weekly team sync. Please update your section of the notes by the morning of "
            "the meeting so we can keep this to the hour.",
    "review": "Setting up time to go through this together. Pre-read is linked below.",
}


def _paragraph(text: str) -> str:
    return f'<p class="MsoNormal">{html.escape(text)}<o:p></o:p></p>\r\n'


def meeting_body(kind: str, subject: str, organizer: str, rnd: random.Random,
                 url: str, tenant_id: str, organizer_oid: str,
                 online: bool = True) -> tuple[str, str]:
    """(HTML body, bodyPreview) of one meeting; `kind` picks agenda and intro text.

    The preview is assembled from the same text rather than parsed back out of
    the HTML, which is what made the scale seed slow; preview() agrees with it.
    """
    agenda = AGENDAS.get(kind, AGENDAS["review"])
    items = rnd.sample(agenda, k=min(len(agenda), rnd.randint(3, 5)))
    notes = f"Notes: https://contoso.sharepoint.com/:w:/r/sites/notes/{rnd.randrange(10**8):08d}"
    text = [_INTROS.get(kind, _INTROS["review"]), "Agenda:", *items, notes,
            f"Thanks, {organizer.split()[0]}"]
    parts = [_HEAD, _paragraph(text[0]), _paragraph(""), _paragraph("Agenda:"),
             '<ul style="margin-top:0cm" type="disc">\r\n']
    parts += [f'<li class="MsoNormal" style="mso-list:l0 level1 lfo1">'
              f'{html.escape(item)}<o:p></o:p></li>\r\n' for item in items]
    parts += ["</ul>\r\n", _paragraph(notes), _paragraph(""), _paragraph(text[-1]), "</div>\r\n"]
    if online:
        mid = " ".join(f"{rnd.randrange(1000):03d}" for _ in range(4))
        code = "".join(rnd.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))
        parts.append(_TEAMS.format(url=url, mid=mid, code=code, oid=organizer_oid,
                                   tid=tenant_id, mid_compact=mid.replace(" ", "")))
        text += [_RULE, "Microsoft Teams meeting", "Join on your computer, mobile app or room "
                 "device", "Click here to join the meeting", f"Meeting ID: {mid}",
                 f"Passcode: {code}", "Download Teams | Join on the web",
                 "Learn More | Meeting options", _RULE]
    parts.append("</body></html>\r\n")
    return "".join(parts), "\r\n".join(text)[:255]


_RULE = "_" * 80
_TAG = re.compile(r"<style.*?</style>|<[^>]+>", re.S)


def preview(body_html: str) -> str:
    """Plain text of the body, first 255 characters, as bodyPreview is."""
    text = html.unescape(_TAG.sub("", body_html))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\r\n".join(line for line in lines if line)[:255]
