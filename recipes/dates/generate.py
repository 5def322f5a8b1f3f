#!/usr/bin/env python3
"""Generates the dates corpus: dates as people write them -> ISO 8601.

    python3 generate.py --out DIR [--seed 1] [--train 40000] [--valid 500] [--test 1000]

writes DIR/{train,valid,test}.{src,tgt}, one date per line, line-aligned.

Sources are written in English, German and French, with weekday and month
names, abbreviations, ordinal suffixes, numeric forms with varied separators,
and varied case. Numeric forms are always day first (10.07.2007 is 10 July);
two-digit years mean 1950-2049. Every date lies in 1950-2049. The splits share
no date: a date in the test split never appears in training, in any form.
"""
import argparse
import datetime
import os
import random

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August",
           "September", "Oktober", "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"],
}
MONTHS_SHORT = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "de": ["Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc."],
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
}
WEEKDAYS_SHORT = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "de": ["Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"],
    "fr": ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
}


def ordinal_en(day):
    if day in (11, 12, 13):
        return f"{day}th"
    return f"{day}" + {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def month_name(rng, lang, month):
    names = MONTHS_SHORT if rng.random() < 0.3 else MONTHS
    return names[lang][month - 1]


def weekday_name(rng, lang, date):
    names = WEEKDAYS_SHORT if rng.random() < 0.3 else WEEKDAYS
    return names[lang][date.weekday()]


def numeric(rng, date):
    sep = rng.choice([".", "/", "-", " "])
    day = f"{date.day:02d}" if rng.random() < 0.6 else str(date.day)
    month = f"{date.month:02d}" if rng.random() < 0.6 else str(date.month)
    year = str(date.year) if rng.random() < 0.6 else f"{date.year % 100:02d}"
    return f"{day}{sep}{month}{sep}{year}"


def english(rng, date):
    month = month_name(rng, "en", date.month)
    day = ordinal_en(date.day) if rng.random() < 0.4 else str(date.day)
    form = rng.randrange(5)
    if form == 0:
        text = f"{day} {month} {date.year}"
    elif form == 1:
        text = f"{month} {day}, {date.year}"
    elif form == 2:
        text = f"the {ordinal_en(date.day)} of {month} {date.year}"
    elif form == 3:
        text = f"{month} {day} {date.year}"
    else:
        text = f"{day} {month} '{date.year % 100:02d}"
    if rng.random() < 0.35:
        text = f"{weekday_name(rng, 'en', date)}, {text}"
    return text


def german(rng, date):
    month = month_name(rng, "de", date.month)
    form = rng.randrange(3)
    if form == 0:
        text = f"{date.day}. {month} {date.year}"
    elif form == 1:
        text = f"{date.day}.{month}.{date.year}" if rng.random() < 0.2 else f"{date.day} {month} {date.year}"
    else:
        text = f"den {date.day}. {month} {date.year}"
    if rng.random() < 0.35:
        text = f"{weekday_name(rng, 'de', date)}, {text}"
    return text


def french(rng, date):
    month = month_name(rng, "fr", date.month)
    day = "1er" if date.day == 1 and rng.random() < 0.7 else str(date.day)
    text = f"{day} {month} {date.year}"
    if rng.random() < 0.35:
        text = f"{weekday_name(rng, 'fr', date)} {text}"
    if rng.random() < 0.4:
        text = f"le {text}"
    return text


def human(rng, date):
    kind = rng.random()
    if kind < 0.2:
        text = numeric(rng, date)
    elif kind < 0.5:
        text = english(rng, date)
    elif kind < 0.75:
        text = german(rng, date)
    else:
        text = french(rng, date)
    case = rng.random()
    if case < 0.15:
        text = text.lower()
    elif case < 0.25:
        text = text.upper()
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train", type=int, default=40000)
    parser.add_argument("--valid", type=int, default=500)
    parser.add_argument("--test", type=int, default=1000)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    first = datetime.date(1950, 1, 1)
    days = (datetime.date(2049, 12, 31) - first).days + 1
    dates = [first + datetime.timedelta(days=i) for i in range(days)]
    rng.shuffle(dates)
    test_dates = dates[: args.test]
    valid_dates = dates[args.test: args.test + args.valid]
    train_dates = dates[args.test + args.valid:]
    if not train_dates:
        parser.error("--valid and --test leave no dates for training")

    os.makedirs(args.out, exist_ok=True)
    splits = {
        "train": [train_dates[i % len(train_dates)] for i in range(args.train)],
        "valid": valid_dates,
        "test": test_dates,
    }
    for name, split in splits.items():
        with open(os.path.join(args.out, f"{name}.src"), "w", encoding="utf-8") as src, \
             open(os.path.join(args.out, f"{name}.tgt"), "w", encoding="utf-8") as tgt:
            for date in split:
                src.write(human(rng, date) + "\n")
                tgt.write(date.isoformat() + "\n")


if __name__ == "__main__":
    main()
