from tests.wechat_user import WeChatUser


def test_subscribe_then_register_happy_path(wechat_user: WeChatUser) -> None:
    welcome = wechat_user.subscribe()
    assert "志愿者 → 注册" in welcome
    first = wechat_user.click("VOLUNTEER_REGISTER")
    assert "个人信息保护说明" in first
    assert "姓名" in wechat_user.say("同意")
    assert "身份证号" in wechat_user.say("张三")
    assert "手机号" in wechat_user.say("11010519491231002X")
    assert "学历" in wechat_user.say("13812345678")
    assert "市州" in wechat_user.say("3")
    assert "县区" in wechat_user.say("兰州市")
    assert "工作单位" in wechat_user.say("城关区")
    assert "职业" in wechat_user.say("跳过")
    assert "专业领域" in wechat_user.say("1")
    assert "专长" in wechat_user.say("1 3")
    assert "服务的时间" in wechat_user.say("果树栽培")
    summary = wechat_user.say("周末")
    assert "1101**********002X" in summary
    assert "11010519491231002X" not in summary
    done = wechat_user.say("确认")
    assert "注册成功" in done
