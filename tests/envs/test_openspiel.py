"""OpenSpiel games through ``envs.openspiel`` (ids ``openspiel:NAME[(params)]``): determinism under a seed,
clone independence, observations without the move list, an exact legal-move oracle (random play is
always legal), illegal-move reasons, chance from the env's RNG, simultaneous moves, registry and CLI."""

from __future__ import annotations

import json
import random

import pytest

from autoharness.cli import main
from autoharness.envs import get_spec, list_games, make
from autoharness.envs.base import Env, StepResult
from autoharness.errors import ConfigError, UnknownGame
from autoharness.evaluate import AgentSpec, evaluate

GAMES = [
    *("tic_tac_toe", "connect_four", "breakthrough", "kuhn_poker", "leduc_poker", "othello", "checkers"),
    *("chess", "hex(board_size=5)", "dots_and_boxes", "nim", "mancala", "oware", "pentago", "clobber"),
    *("amazons", "backgammon", "pig", "liars_dice", "phantom_ttt", "dark_hex", "goofspiel", "matrix_rps"),
    *("2048", "blackjack", "catch", "cliff_walking", "first_sealed_auction", "tiny_hanabi", "blotto"),
    *("oshi_zumo", "markov_soccer", "nine_mens_morris", "y(board_size=7)", "go(board_size=5)"),
    "morpion_solitaire",
]
"""36 games: perfect and imperfect information, chance, simultaneous moves, one and two players."""
IDS = [f"openspiel:{name}" for name in GAMES]
PLIES = 120


def play_random(env: Env, seed: int, plies: int = PLIES) -> tuple[list[str], StepResult | None]:
    """Observations of a random legal playout (oracle moves, chosen by ``seed``) and the last step."""
    rng = random.Random(seed)
    turn = env.reset(seed)
    seen, result = [turn.observation], None
    for _ in range(plies):
        moves = env.legal_moves()  # type: ignore[attr-defined]
        result = env.step(rng.choice(moves))
        assert result.legal, (env.id, result.reason)
        if result.done:
            break
        assert result.next is not None
        seen.append(result.next.observation)
    return seen, result


@pytest.mark.parametrize("game_id", IDS)
def test_same_seed_same_game_and_random_play_is_always_legal(game_id: str) -> None:
    first, again = play_random(make(game_id), 3), play_random(make(game_id), 3)
    assert first[0] == again[0]
    assert (first[1] and first[1].rewards) == (again[1] and again[1].rewards)
    env = make(game_id)
    _, end = play_random(env, 3, plies=10_000)
    assert end is not None and end.done and end.rewards is not None
    assert set(end.rewards) == set(range(env.num_players))
    for player in end.rewards:
        assert 0.0 <= env.normalized_reward(end.rewards, player) <= 1.0


@pytest.mark.parametrize("game_id", IDS)
def test_clone_is_independent(game_id: str) -> None:
    env, twin = make(game_id), make(game_id)
    rng, twin_rng = random.Random(5), random.Random(5)
    env.reset(5), twin.reset(5)
    for _ in range(3):  # a few plies in (fewer when the game would end), then clone
        move = rng.choice(env.legal_moves())
        assert twin_rng.choice(twin.legal_moves()) == move
        if env.clone().step(move).done:
            break
        assert env.step(move) == twin.step(move)
    copy = env.clone()
    other = random.Random(99)
    for _ in range(200):  # the clone plays on with other moves (and its own chance draws)
        if copy.step(other.choice(copy.legal_moves())).done:
            break
    while True:  # the original still plays exactly like its untouched twin
        assert env.legal_moves() == twin.legal_moves()
        move = rng.choice(env.legal_moves())
        assert twin_rng.choice(twin.legal_moves()) == move
        step, twin_step = env.step(move), twin.step(move)
        assert step == twin_step
        if step.done:
            break


@pytest.mark.parametrize("game_id", IDS)
def test_observation_holds_no_move_list(game_id: str) -> None:
    env = make(game_id)
    rng = random.Random(1)
    turn = env.reset(1)
    header = env.rules(turn.player).count("\n") + 1  # type: ignore[attr-defined]
    for _ in range(40):
        moves = [m[1:-1] for m in env.legal_moves()]
        body = turn.observation.split("\n", header)[-1]
        assert "legal" not in body.lower()
        distinctive = [m for m in moves if len(m) >= 3 and not m.isdigit()]
        if len(distinctive) >= 3:
            assert sum(m in body for m in distinctive) < len(distinctive), body
        result = env.step(rng.choice(env.legal_moves()))
        if result.done:
            break
        turn = result.next


def test_every_listed_game_plays_its_oracle_moves() -> None:
    """All ~105 listed games, one short random game each: every move ``legal_moves()`` lists is accepted."""
    for spec in list_games("openspiel"):
        play_random(make(spec.id), 0, plies=60)


def test_rules_header_names_the_game_players_and_action_format() -> None:
    env = make("openspiel:tic_tac_toe")
    first = env.reset(0).observation
    assert first.startswith("[GAME] You are playing Tic Tac Toe (OpenSpiel game tic_tac_toe), 2 players")
    assert "you are player 0" in first and "[x(0,0)]" in first
    second = env.step("[x(1,1)]").next
    assert second is not None and "you are player 1" in second.observation
    assert "[o(" in second.observation  # examples are the mover's own actions
    assert "Moves since your last turn: player 0: x(1,1)" in second.observation
    assert second.observation.endswith("...\n.x.\n...")


def test_illegal_moves_have_reasons_and_forfeit() -> None:
    env = make("openspiel:tic_tac_toe")
    env.reset(0)
    env.step("[x(1,1)]")
    probe = env.clone()
    taken = probe.step("[o(1,1)]")
    assert not taken.legal and taken.done and "not a legal action" in (taken.reason or "")
    assert taken.rewards == {1: -1.0, 0: 1.0}
    unbracketed = env.clone().step("o(0,0)")
    assert not unbracketed.legal and "square brackets" in (unbracketed.reason or "")
    assert env.clone().step("I play [o(0,0)] now").legal  # text around the brackets is allowed
    assert not env.clone().step("[x(0,0)]").legal  # the other player's mark
    assert env.step("[ o(0,0) ]").legal  # surrounding spaces inside the brackets are ignored


def test_legal_moves_are_exactly_the_accepted_actions() -> None:
    env = make("openspiel:connect_four")
    env.reset(0)
    for column in range(6):  # fill column 0
        env.step("[x0]" if column % 2 == 0 else "[o0]")
    moves = env.legal_moves()
    assert moves == [f"[x{c}]" for c in range(1, 7)]
    assert not env.clone().step("[x0]").legal
    assert all(env.clone().step(m).legal for m in moves)


def test_chance_comes_from_the_seed() -> None:
    def dice(seed: int) -> list[str]:
        env = make("openspiel:pig")
        turn = env.reset(seed)
        rolls = []
        for _ in range(20):
            result = env.step("[roll]")
            if result.done or result.next is None:
                break
            turn = result.next
            rolls.append(turn.observation.split("Moves since your last turn:")[-1].split("\n")[0])
        return rolls

    assert dice(4) == dice(4)
    assert len({tuple(dice(s)) for s in range(5)}) > 1


def test_simultaneous_moves_are_hidden_until_the_round_is_played() -> None:
    env = make("openspiel:goofspiel")
    first = env.reset(0)
    assert first.player == 0 and "choose at the same time" in first.observation
    second = env.step("[[P0]Bid: 13]").next
    assert second is not None and second.player == 1
    assert "P0]Bid: 13" not in second.observation
    assert "P0 hand: 1 2 3 4 5 6 7 8 9 10 11 12 13" in second.observation
    third = env.step("[[P1]Bid: 1]").next
    assert third is not None and third.player == 0
    assert "player 1: [P1]Bid: 1" in third.observation
    assert "P0 hand: 1 2 3 4 5 6 7 8 9 10 11 12 \n" in third.observation


def test_imperfect_information_shows_only_the_players_view() -> None:
    env = make("openspiel:kuhn_poker")
    turn = env.reset(2)
    assert "Your information state:" in turn.observation and "Moves since" not in turn.observation
    nxt = env.step("[Bet]").next
    assert nxt is not None and nxt.player == 1
    env2 = make("openspiel:dark_hex")
    env2.reset(0)
    hidden = env2.step("[a1]").next
    assert hidden is not None and "a1" not in hidden.observation.split("\n", 2)[-1]


def test_rewards_normalise_like_textarena() -> None:
    env = make("openspiel:tic_tac_toe")
    assert env.reward_range == (-1.0, 1.0)
    assert [env.normalized_reward({0: r, 1: -r}, 0) for r in (-1.0, 0.0, 1.0)] == [0.0, 0.5, 1.0]
    poker = make("openspiel:kuhn_poker")
    assert poker.reward_range == (-2.0, 2.0) and poker.normalized_reward({0: 1.0, 1: -1.0}, 0) == 0.75


@pytest.mark.parametrize("game_id", IDS)
def test_random_agent_legal_rate_is_one(game_id: str) -> None:
    results = evaluate(game_id, [AgentSpec.parse("random")], matches=2, max_steps=300)
    summary = results[0].summary()
    assert summary["legal_rate"] == 1.0 and summary["illegal_moves"] == 0 and summary["moves"] > 0, summary


def test_registry_resolves_openspiel_ids() -> None:
    listed = {g.id: g for g in list_games("openspiel")}
    assert len(listed) >= 100 and {f"openspiel:{n}" for n in ("tic_tac_toe", "kuhn_poker")} <= set(listed)
    assert "openspiel:mfg_garnet" not in listed and "openspiel:crossword" not in listed
    go = get_spec("openspiel:go(board_size=9)")
    assert (go.players, go.source, go.family) == (2, "openspiel", "openspiel:go")
    assert go.paper_learning_steps is None
    assert len(list_games("all")) == 145 + len(listed)
    with pytest.raises(UnknownGame) as caught:
        get_spec("openspiel:tic_tac_to")
    assert "openspiel:tic_tac_toe" in caught.value.suggestions
    with pytest.raises(ConfigError, match="Unknown parameter 'foo'"):
        get_spec("openspiel:go(foo=1)")
    with pytest.raises(ConfigError, match="mean-field"):
        get_spec("openspiel:mfg_garnet")
    with pytest.raises(ConfigError, match="sampled inside"):
        get_spec("openspiel:negotiation")


def test_cli_games_source_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["games", "--source", "openspiel", "--json"]) == 0
    games = json.loads(capsys.readouterr().out)
    assert {g["source"] for g in games} == {"openspiel"}
    assert {"id": "openspiel:tic_tac_toe", "players": 2, "eval_set": False} | {
        "paper_learning_steps": None,
        "source": "openspiel",
    } in games
    assert main(["show", "openspiel:breakthrough", "--seed", "2"]) == 0
    assert capsys.readouterr().out == make("openspiel:breakthrough").reset(2).observation + "\n"
    assert main(["show", "openspiel:go(foo=1)"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown parameter 'foo'" in err
