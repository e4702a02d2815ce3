"""The criteria for 优秀科技志愿者、服务队、项目 and 服务点 candidates (中国科协): thresholds
that are settings (RECOGNITION_* in the environment), and the checks on a year's figures."""

from __future__ import annotations

from dataclasses import dataclass

VOLUNTEER = "volunteer"
TEAM = "team"
PROJECT = "project"
POINT = "point"
KIND_LABELS: dict[str, str] = {
    VOLUNTEER: "优秀科技志愿者",
    TEAM: "优秀科技志愿服务队",
    PROJECT: "优秀科技志愿服务项目",
    POINT: "优秀科技志愿服务点",
}


@dataclass(frozen=True)
class Thresholds:
    volunteer_min_activities: int = 10
    volunteer_min_hours: float = 20
    team_min_volunteers: int = 20
    team_min_activities: int = 50
    team_min_average_hours: float = 5
    team_min_hours: float = 100
    # A project is one team's recurring activity (same title). A service point is a community
    # or village that asked for help (a need): activities held for it, and its feedback
    # (how many rated the service, and the average of 1–5).
    project_min_activities: int = 4
    point_min_activities: int = 6
    point_min_feedback: int = 3
    point_min_satisfaction: float = 4

    def volunteer_qualifies(self, activities: int, hours: float) -> bool:
        return activities >= self.volunteer_min_activities and hours >= self.volunteer_min_hours

    def team_qualifies(self, volunteers: int, activities: int, hours: float) -> bool:
        return (
            volunteers >= self.team_min_volunteers
            and activities >= self.team_min_activities
            and hours >= self.team_min_hours
            and volunteers > 0
            and hours / volunteers >= self.team_min_average_hours
        )

    def project_qualifies(self, activities: int) -> bool:
        return activities >= self.project_min_activities

    def point_qualifies(self, activities: int, feedbacks: int, satisfaction: float) -> bool:
        return (
            activities >= self.point_min_activities
            and feedbacks >= self.point_min_feedback
            and feedbacks > 0
            and satisfaction >= self.point_min_satisfaction
        )

    def describe(self) -> dict[str, str]:
        """The criteria as shown above each list."""
        return {
            VOLUNTEER: f"年度参加活动≥{self.volunteer_min_activities}次且已确认服务时长≥{self.volunteer_min_hours:g}小时",
            TEAM: (
                f"队员≥{self.team_min_volunteers}人、年度活动≥{self.team_min_activities}场、"
                f"人均服务时长≥{self.team_min_average_hours:g}小时、总服务时长≥{self.team_min_hours:g}小时"
            ),
            PROJECT: f"同一服务队同名活动年度举办≥{self.project_min_activities}场（按活动数和参与人次排序）",
            POINT: (
                f"社区、乡村（需求方，按名称和县区）：年度经供需对接开展活动≥{self.point_min_activities}场、"
                f"收到评价≥{self.point_min_feedback}条且平均满意度≥{self.point_min_satisfaction:g}分"
                "（按活动数和满意度排序）"
            ),
        }
