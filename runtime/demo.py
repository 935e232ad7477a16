"""The living demo (`ticketflow demo`): the bundled templates, every team they route to,
agents with the skills, capacities, office hours and away switch routing reads, team
leads, and about twenty tickets at various points of their lives — all seeded through the
service layer, so every row and event is exactly what real use would leave behind. The
tickets are routed by the templates' rules as they are opened; story steps act as whoever
routing picked (`ASSIGNEE`), so each step is one the actor may really take.

Seeding is idempotent: teams and users are looked up by key and name (profiles and leads
are set only with the users they belong to), a template is installed only when its ticket
type does not exist, and each demo ticket is recognised by its type and title among the
demo requesters' tickets. A second run adds nothing and prints no password: a password is
shown only when its user is created.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from runtime.context import Request
from runtime.db import Database
from runtime.models import Definition, Role, Team, Ticket, User
from runtime.services import accounts, agents, attachments, surveys, templates, tickets
from runtime.services.errors import Conflict, NotFound

TEMPLATES = ("repair", "it-support", "service", "after-sales", "production-process")

# Every team the bundled templates route to (`assignment[].team`) or escalate to
# (`sla.escalate[].reassign_to`), so that no demo ticket is unrouted for a missing team.
TEAMS = (
    ("repair", "Repair 维修组"), ("senior", "Senior engineers 高级工程师"),
    ("network-l1", "Network first line 网络一线"), ("it-helpdesk", "IT help desk IT服务台"),
    ("it-identity", "Accounts and access 账号权限组"),
    ("service-desk", "Service desk 客服中心"), ("tech-support", "Technical support 技术支持"),
    ("billing", "Billing 账务组"), ("customer-relations", "Customer relations 客户关系组"),
    ("vip-care", "VIP care 大客户服务"),
    ("field-service", "Field service 上门服务"), ("field-senior", "Field seniors 高级上门工程师"),
    ("installers", "Installers 安装组"),
    ("line-maintenance", "Line maintenance 产线维修"), ("production-qa", "Production QA 品质组"),
    ("ehs", "Safety (EHS) 安环组"), ("process-engineering", "Process engineering 工艺组"),
    ("production-mgmt", "Production management 生产管理"),
)
# Team leads hear of every ticket that waits in their team's queue.
LEADS = (("repair", "zhao"), ("senior", "zhao"), ("network-l1", "zhao"),
         ("it-helpdesk", "zhao"), ("service-desk", "zhou"), ("tech-support", "zhou"))

# Office hours in Shanghai: outside them the agent is off shift and routing passes them by.
OFFICE_HOURS: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "shifts": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    display_name: str
    language: str
    teams: tuple[str, ...] = ()
    email: str | None = None
    # What routing reads (runtime.services.agents): skill tags matching the values of the
    # templates' `match_skills` fields, the most open tickets taken, office hours, away.
    skills: tuple[str, ...] = ()
    capacity: int | None = None
    schedule: Mapping[str, Any] | None = None
    away: bool = False

    @property
    def password(self) -> str:
        # Known on purpose: a demo is for trying things out. `serve` binds to 127.0.0.1
        # by default; never expose a demo database.
        return f"demo-{self.username}-2026"

    @property
    def routed(self) -> bool:
        return bool(self.skills or self.capacity is not None or self.schedule or self.away)


USERS = (
    DemoUser("admin", Role.ADMIN, "Administrator 管理员", "en"),
    DemoUser("zhao", Role.SUPERVISOR, "Zhao Min 赵敏", "zh",
             ("repair", "senior", "network-l1", "it-helpdesk"), "zhao.min@example.cn",
             capacity=5),
    # Repair: skill match on the ticket's category and fault (repair.yaml).
    DemoUser("wang", Role.AGENT, "Wang Lei 王磊", "zh", ("repair", "it-identity"),
             "wang.lei@example.cn", skills=("printer", "hardware"), capacity=8),
    DemoUser("chen", Role.AGENT, "Chen Jing 陈静", "en", ("repair", "senior", "it-helpdesk"),
             "chen.jing@example.cn", skills=("laptop", "software", "hardware"), capacity=10),
    DemoUser("sun", Role.AGENT, "Sun Hao 孙浩", "en", ("network-l1", "it-helpdesk"),
             "sun.hao@example.cn", skills=("network", "vpn", "wifi"), capacity=6,
             schedule=OFFICE_HOURS),
    DemoUser("liu", Role.AGENT, "Liu Yang 刘洋", "zh", ("repair",), "liu.yang@example.cn",
             skills=("printer", "hardware"), capacity=8, away=True),
    # Customer service: skill match on the subcategory (service.yaml).
    DemoUser("zhou", Role.AGENT, "Zhou Qiang 周强", "zh",
             ("service-desk", "tech-support", "billing", "customer-relations"),
             "zhou.qiang@example.cn", skills=("setup", "fault", "app"), capacity=12,
             schedule=OFFICE_HOURS),
    DemoUser("alice", Role.REQUESTER, "Alice Martin", "en", (), "alice.martin@example.com"),
    DemoUser("li", Role.REQUESTER, "Li Na 李娜", "zh", (), "li.na@example.cn"),
)
REQUESTERS = tuple(u.username for u in USERS if u.role is Role.REQUESTER)

# A step's actor: whoever routing (or a claim) gave the ticket to. Should the ticket still
# wait in a queue when the step comes, the story's `handler` claims it first.
ASSIGNEE = "@assignee"


@dataclass(frozen=True)
class Step:
    """One thing someone does to a demo ticket, `hours` after it was opened."""

    hours: float
    actor: str  # a user name, or ASSIGNEE
    action: str  # claim | fire | update | comment | internal | transfer | survey
    arg: str = ""  # the transition, the comment's text or the team key
    values: Mapping[str, Any] = field(default_factory=dict)


@functools.cache
def _title_field(ticket_type: str) -> str:
    found = templates.find(ticket_type).ticket_type.title_field
    assert found is not None, f"the {ticket_type} template titles tickets by their number"
    return found


@dataclass(frozen=True)
class Story:
    """A demo ticket: who opened it, how long ago, with what, and what happened since."""

    requester: str
    hours_ago: float
    values: Mapping[str, Any]
    steps: tuple[Step, ...] = ()
    submit: bool = True  # False leaves it in `new`, as a saved but unsent form
    ticket_type: str = "repair"
    handler: str = "chen"  # claims the ticket for an ASSIGNEE step if nobody has it

    @property
    def title(self) -> str:
        """What the ticket is titled (its template's `title_field`): how a second run
        recognises it."""
        return str(self.values[_title_field(self.ticket_type)])

    @property
    def key(self) -> tuple[str, str]:
        return (self.ticket_type, self.title)

    @property
    def photo(self) -> bool:
        # Hardware repairs require on-site photos (the template's `requires: [photos]`).
        return self.ticket_type == "repair" and self.values.get("fault") == "hardware"


def _repair(device: str, category: str, fault: str, symptom: str, description: str,
            phone: str, priority: str = "normal") -> dict[str, Any]:
    return {"device": device, "category": category, "fault": fault, "symptom": symptom,
            "description": description, "contact_phone": phone, "priority": priority}


def _it(location: str, category: str, summary: str, urgency: str = "normal",
        **more: Any) -> dict[str, Any]:
    return {"category": category, "urgency": urgency, "location": location,
            "summary": summary, **more}


def _service(category: str, subcategory: str, subject: str, description: str,
             **more: Any) -> dict[str, Any]:
    # The customer's name and e-mail come from their account (`from_requester`), the
    # channel is the form's default (web).
    return {"category": category, "subcategory": subcategory, "subject": subject,
            "description": description, **more}


A = ASSIGNEE
RESOLVED = {"resolution": "Reinstalled the printer driver and cleared the spool folder; "
                          "printed 20 test pages."}
REPAIRS: tuple[Story, ...] = (
    # printer + software: wang and chen match one skill each; the less loaded one wins.
    Story("li", 150, _repair("PRN-0042", "printer", "software", "paper_jam",
                             "打印任务一直卡在队列里，重启电脑也没有用。", "+86 138 0013 8000"), (
        Step(1.5, A, "comment", "您好，我远程看一下打印队列，请保持电脑开机。"),
        Step(3, A, "fire", "resolve", RESOLVED),
        Step(19.9, "li", "comment", "已经可以正常打印了，谢谢！"),
        Step(20, "li", "fire", "confirm", {"confirmed": True}),
        Step(20.5, "li", "survey", values={"csat": 5, "nps": 9,
                                           "comment": "远程就解决了，很快，谢谢！"}),
    )),
    Story("alice", 130, _repair("LAP-1187", "laptop", "hardware", "no_boot",
                                "The laptop does not boot: the power LED blinks amber three "
                                "times and the screen stays black.", "+33 6 12 34 56 78",
                                "urgent"), (
        Step(2, A, "fire", "checked",
             {"check_result": "Failed RAM module in slot B (memtest errors)."}),
        Step(3, A, "update", "", {
            "repair_started": "2026-01-01T00:00:00Z",  # replaced by the real instant
            "parts": [{"part_no": "RAM-DDR4-16G", "qty": 1, "unit_price": 420.0}]}),
        Step(6, A, "fire", "resolve",
             {"resolution": "Replaced the RAM module; 2 hours of memtest without errors."}),
    )),
    # Network equipment: nobody in the repair team has the skills, so it waits in the
    # repair queue (its lead is told) until the supervisor passes it to the network team.
    Story("li", 110, _repair("NET-0310", "network", "network", "slow",
                             "三楼会议室的无线网络非常慢，视频会议经常断线。",
                             "+86 139 1000 2000"), (
        Step(0.3, "zhao", "transfer", "network-l1", {"reason": "网络设备问题，转网络一线处理"}),
        Step(1, "sun", "claim"),
        Step(1.2, "sun", "internal", "AP-3F-02 shows 80% channel utilisation; @zhao may I "
                                     "move it to channel 149 after hours?"),
        Step(2, "zhao", "internal", "@sun 可以，今晚八点以后调整。"),
    )),
    Story("alice", 96, _repair("PRN-0107", "printer", "hardware", "poor_print",
                               "Prints come out with grey streaks down the left side.",
                               "+33 6 12 34 56 78")),
    Story("alice", 80, _repair("LAP-2203", "laptop", "software", "screen",
                               "After the latest update the external screen flickers every "
                               "few seconds.", "+33 6 12 34 56 78", "urgent"), (
        Step(0.4, A, "fire", "ask_customer"),
        Step(0.5, A, "comment", "Could you tell us the model of the external screen "
                                "and which cable you use (HDMI or USB-C)?"),
    )),
    Story("li", 72, _repair("LAP-0954", "laptop", "software", "keyboard",
                            "中文输入法经常自动切换成英文，影响工作。", "+86 138 0013 8000"), (
        Step(4, A, "fire", "resolve",
             {"resolution": "Removed a conflicting input-method shortcut (Ctrl+Space)."}),
        Step(30, "li", "fire", "reopen"),
        Step(30.1, "li", "comment", "问题又出现了，今天上午又自动切换了两次。"),
    )),
    # Critical: the senior engineers, least loaded first.
    Story("alice", 60, _repair("NET-1022", "network", "hardware", "no_link",
                               "The switch in the server room lost link on ports 1-8.",
                               "+33 6 12 34 56 78", "critical"), (
        Step(1, A, "fire", "checked",
             {"check_result": "Port group 1-8 dead after a power surge; module faulty."}),
        Step(5, A, "fire", "resolve",
             {"resolution": "Moved the uplinks to the spare module; ordered a replacement."}),
        Step(8, "zhao", "fire", "confirm", {"confirmed": True}),
        Step(9, "alice", "survey", values={
            "csat": 4, "nps": 8,
            "comment": "Fixed the same day. A word before the switch-over would have helped."}),
    )),
    Story("li", 40, _repair("PRN-0388", "printer", "software", "poor_print",
                            "打印出来的中文字体显示为方框。", "+86 138 0013 8000"), submit=False),
    Story("alice", 30, _repair("LAP-3310", "laptop", "software", "no_boot",
                               "Windows starts an automatic repair loop after every reboot.",
                               "+33 6 12 34 56 78")),
    Story("li", 20, _repair("NET-0077", "network", "software", "packet_loss",
                            "财务系统访问时丢包严重，页面经常超时。",
                            "+86 139 1000 2000", "urgent"), (
        Step(0.2, "zhao", "transfer", "network-l1", {"reason": "网络丢包，转网络一线"}),
        Step(0.5, "sun", "claim"),
        Step(1, "sun", "internal", "@zhao 可能需要更换交换机端口，请确认是否可以停机十分钟。"),
    )),
    Story("alice", 12, _repair("PRN-0520", "printer", "hardware", "no_power",
                               "The printer on floor 2 does not power on at all.",
                               "+33 6 12 34 56 78"), (
        Step(1, A, "fire", "ask_customer"),
        Step(1.1, A, "comment", "Is the power strip switched on? Please try another "
                                "socket and tell us."),
        Step(3, "alice", "fire", "customer_replied"),
        Step(3.1, "alice", "comment", "Another socket did not help, it is still dead."),
    )),
    Story("li", 6, _repair("LAP-4410", "laptop", "software", "screen",
                           "屏幕亮度无法调节，一直是最暗。", "+86 138 0013 8000"), (
        Step(1.5, A, "fire", "resolve",
             {"resolution": "Reinstalled the display driver; brightness keys work again."}),
        Step(4, "li", "fire", "confirm", {"confirmed": True}),
        Step(4.2, "li", "survey", values={"csat": 3, "nps": 6}),
    )),
)
IT_SUPPORT: tuple[Story, ...] = (
    # Urgent network faults go straight to the network first line, least loaded.
    Story("alice", 26, _it("Building B, 3F", "network", "No network on the whole 3rd floor",
                           "urgent", network_symptom="no_connection", affected="team"), (
        Step(0.2, A, "internal", "Access switch B3-SW2 is down; @zhao I am replacing it "
                                 "from stock."),
        Step(1, A, "fire", "resolve", {"solution": "Replaced the failed access switch "
                                                   "B3-SW2.", "root_cause": "hardware_fault"}),
    ), ticket_type="it-support", handler="sun"),
    # Everything else lands in the help desk's claim pool: the first agent to claim wins.
    Story("li", 9, _it("财务部 5F, 工位 5-12", "software", "月结时 ERP 客户端闪退",
                       asset_tag="PC-5512",
                       description="每次导出总账报表时客户端直接退出，没有报错信息。"), (
        Step(0.5, "chen", "claim"),
        Step(0.6, "chen", "fire", "take"),
        Step(0.8, "chen", "comment", "我已经收到，下午两点到您工位查看。"),
    ), ticket_type="it-support"),
    Story("alice", 2, _it("Building A, 2F, room 2-05", "hardware",
                          "The projector in room 2-05 shows no picture",
                          asset_tag="PRJ-2051"),
          ticket_type="it-support"),
)
SERVICE: tuple[Story, ...] = (
    # Technical questions: skill match on the subcategory; billing: round robin.
    Story("alice", 50, _service("technical", "app", "The app logs me out",
                                "The mobile app logs me out every time I switch to another "
                                "app and back."), (
        Step(1, A, "fire", "respond",
             {"first_reply": "Thank you — please update to version 5.2, which fixes this."}),
    ), ticket_type="service", handler="zhou"),
    Story("li", 4, _service("billing", "invoice", "发票抬头错误",
                            "上个月的发票公司名称写错了，请重新开具。",
                            order_number="SO-20261120-0042"),
          ticket_type="service", handler="zhou"),
)
STORIES: tuple[Story, ...] = REPAIRS + IT_SUPPORT + SERVICE


@dataclass
class DemoReport:
    """What a run created. Passwords appear only for users created by this run."""

    teams_created: list[str] = field(default_factory=list)
    users_created: list[tuple[str, str, str]] = field(default_factory=list)  # name, role, pw
    users_existing: list[str] = field(default_factory=list)
    templates_installed: list[str] = field(default_factory=list)
    tickets_created: list[str] = field(default_factory=list)
    tickets_existing: int = 0

    @property
    def template_installed(self) -> bool:
        return bool(self.templates_installed)

    @property
    def logins(self) -> list[tuple[str, str]]:
        """Every demo user name with its role, created now or earlier."""
        return [(user.username, str(user.role)) for user in USERS]


def seed_demo(db: Database, now: datetime, attachment_dir: Path) -> DemoReport:
    """Seed the demo on a migrated database; safe to run again (it adds only what is
    missing). `attachment_dir` is where the hardware tickets' photos are stored."""
    report = DemoReport()
    _seed_teams(db, now, report)
    _seed_users(db, now, report)
    _seed_templates(db, now, report)
    _seed_tickets(db, now, attachment_dir, report)
    return report


def _seed_teams(db: Database, now: datetime, report: DemoReport) -> None:
    with db.read() as session:
        existing = set(session.scalars(select(Team.key)))
    for key, name in TEAMS:
        if key not in existing:
            accounts.create_team(db, None, key, name, now=now)
            report.teams_created.append(key)


def _seed_users(db: Database, now: datetime, report: DemoReport) -> None:
    with db.read() as session:
        existing = {user.username: user for user in session.scalars(
            select(User).options(selectinload(User.teams)))}
        teams = {user.username: {team.key for team in user.teams}
                 for user in existing.values()}
        unprofiled = {user.username for user in existing.values()
                      if not (user.skills or user.capacity is not None or user.schedule
                              or user.away)}
        leads = {team.key: team.lead_id for team in session.scalars(select(Team))}
    admin: Request | None = None
    for user in USERS:
        if user.username not in existing:
            accounts.create_user(db, None, username=user.username, role=user.role,
                                 password=user.password, display_name=user.display_name,
                                 email=user.email, language=user.language, teams=user.teams,
                                 now=now)
            report.users_created.append((user.username, str(user.role), user.password))
            unprofiled.add(user.username)
            teams[user.username] = set(user.teams)
        else:
            report.users_existing.append(user.username)
        admin = admin or _request(db, "admin", now)
        # A demo seeded by an older version converges: missing teams are joined (none is
        # left), and a routing profile or lead is set only where there is none yet, so
        # what someone changed by hand stays.
        missing = set(user.teams) - teams[user.username]
        if missing:
            accounts.change_user(db, admin, user.username,
                                 teams=tuple(sorted(teams[user.username] | missing)))
        if user.routed and user.username in unprofiled:
            agents.set_profile(db, admin, user.username, skills=list(user.skills),
                               capacity=user.capacity,
                               schedule=dict(user.schedule) if user.schedule else None,
                               away=user.away)
    for team, lead in LEADS:
        if leads.get(team) is None and admin is not None:
            agents.set_team_lead(db, admin, team, lead)


def _request(db: Database, username: str, at: datetime) -> Request:
    with db.read() as session:
        user = accounts.find_user(session, username)
        if user is None:
            raise NotFound(f"there is no user '{username}'")
        return Request(accounts.actor_for(user), at, None)


def _seed_templates(db: Database, now: datetime, report: DemoReport) -> None:
    with db.read() as session:
        published = set(session.scalars(select(Definition.key)))
    admin = _request(db, "admin", now)
    for name in TEMPLATES:
        if name in published:
            continue  # installed (or made by hand) before: leave it as it is
        outcome = templates.install(db, admin, name)
        if outcome.action == "installed":
            report.templates_installed.append(name)


def _existing_titles(db: Database) -> set[tuple[str, str]]:
    with db.read() as session:
        return set(session.execute(
            select(Ticket.ticket_type, Ticket.title).join(User, Ticket.requester_id == User.id)
            .where(User.username.in_(REQUESTERS))).all())


def _seed_tickets(db: Database, now: datetime, attachment_dir: Path,
                  report: DemoReport) -> None:
    existing = _existing_titles(db)
    stories = [story for story in STORIES if story.key not in existing]
    report.tickets_existing = len(STORIES) - len(stories)
    # Everything happens in the order of its instant, across tickets, so the event log
    # reads like a real week rather than one ticket's life after another.
    actions: list[tuple[datetime, int, Callable[[], None]]] = []
    numbers: dict[tuple[str, str], str] = {}
    for story in stories:
        opened = now - timedelta(hours=story.hours_ago)
        actions.append((opened, len(actions), _opener(db, story, opened, attachment_dir,
                                                      numbers, report)))
        for step in story.steps:
            at = opened + timedelta(hours=step.hours)
            actions.append((at, len(actions), _stepper(db, story, step, at, numbers)))
    for _at, _order, action in sorted(actions, key=lambda item: item[:2]):
        action()


def _opener(db: Database, story: Story, at: datetime, attachment_dir: Path,
            numbers: dict[tuple[str, str], str], report: DemoReport) -> Callable[[], None]:
    def open_ticket() -> None:
        request = _request(db, story.requester, at)
        values = dict(story.values)
        if story.photo:
            photo = attachments.upload(db, request, attachment_dir, _photo(story.title),
                                       f"{story.title.lower()}.png", max_size=1024 * 1024)
            values["photos"] = [{"id": photo.id}]
        view = tickets.create(db, request, story.ticket_type, values,
                              transition=tickets.AUTO if story.submit else None)
        numbers[story.key] = view.number
        report.tickets_created.append(view.number)

    return open_ticket


def _actor(db: Database, story: Story, step: Step, at: datetime, number: str) -> Request:
    """The request of the step's actor; for ASSIGNEE, whoever holds the ticket now (the
    story's handler claims it first if routing left it in a queue)."""
    if step.actor != ASSIGNEE:
        return _request(db, step.actor, at)
    with db.read() as session:
        holder = session.scalar(select(User.username).join(
            Ticket, Ticket.assignee_id == User.id).where(Ticket.number == number))
    if holder is None:
        holder = story.handler
        _claim(db, _request(db, holder, at), number)
    return _request(db, holder, at)


def _stepper(db: Database, story: Story, step: Step, at: datetime,
             numbers: dict[tuple[str, str], str]) -> Callable[[], None]:
    def act() -> None:
        number = numbers[story.key]
        request = _actor(db, story, step, at, number)
        values = dict(step.values)
        if "repair_started" in values:
            values["repair_started"] = at.isoformat().replace("+00:00", "Z")
        if step.action == "claim":
            _claim(db, request, number)
        elif step.action == "fire":
            tickets.fire(db, request, number, step.arg, values)
        elif step.action == "update":
            tickets.update_fields(db, request, number, values)
        elif step.action in ("comment", "internal"):
            tickets.comment(db, request, number, step.arg, internal=step.action == "internal")
        elif step.action == "transfer":
            tickets.transfer(db, request, number, reason=values["reason"], to_team=step.arg)
        elif step.action == "survey":
            surveys.answer_as_requester(db, request, number, surveys.Answer(
                values["csat"], values.get("nps"), values.get("comment")))
        else:  # a typo in STORIES, caught by the demo's test
            raise ValueError(f"unknown demo action {step.action!r}")

    return act


def _claim(db: Database, request: Request, number: str) -> None:
    # Should assignment rules already have given the ticket to someone, the demo goes on.
    try:
        tickets.claim(db, request, number)
    except Conflict as error:
        if error.code != "already-taken":
            raise


def _photo(seed: str) -> bytes:
    """A small real PNG (a colour gradient), so the photo field holds an actual image."""
    width, height = 48, 32
    tint = zlib.crc32(seed.encode()) & 0xFF
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 5 & 0xFF, y * 8 & 0xFF, tint)) for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
