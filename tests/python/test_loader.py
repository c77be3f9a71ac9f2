"""`mailroom load`: bring-your-own-data files into the raw contract tables."""

import datetime as dt
import decimal
import json
import textwrap
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import RUNNER, load

from mailroom import loader
from mailroom.cli import app as APP
from mailroom.contract import load_contract
from mailroom.loader import LoadError, LoadOptions, load_files, read_mapping_file


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding=encoding)
    return path


def rejections(db: Path) -> list[tuple]:
    return query(
        db,
        "select target_table, file_name, row_number, reason, raw_row "
        "from raw.load_rejections order by row_number",
    )


def value_issues(db: Path) -> list[tuple]:
    return query(
        db,
        "select target_table, file_name, row_number, record_id, column_name, reason, raw_value "
        "from raw.load_value_issues order by row_number, column_name",
    )


# --------------------------------------------------------------------------- happy paths


def test_minimal_transaction_log_lands_with_synthesised_order_ids(tmp_path: Path, db: Path):
    tx = write(
        tmp_path / "tx.csv",
        """
        customer_id,order_date,amount,quantity
        c1,20240105,12.50,2
        c2,20240106,"1,234.00",1
        c1,20240107,7,
        """,
    )
    result = load(
        "shop_orders", tx,
        "--map", "order_at=order_date",
        "--map", "total_amount=amount",
        "--map", "item_count=quantity",
        "--date-format", "%Y%m%d",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rows read 3, loaded 3, rejected 0" in result.output
    assert "order_id is not in the file: synthesised as 'tx.csv:<row number>'" in result.output
    assert (
        "columns: customer_id <- customer_id, order_at <- order_date, total_amount <- amount, "
        "item_count <- quantity, order_id <- synthesised" in result.output
    )
    assert query(
        db,
        "select order_id, customer_id, order_at, total_amount, item_count, status, currency "
        "from raw.shop_orders order by order_id",
    ) == [
        ("tx.csv:1", "c1", "2024-01-05T00:00:00Z", "12.50", "2", None, None),
        ("tx.csv:2", "c2", "2024-01-06T00:00:00Z", "1234.00", "1", None, None),
        ("tx.csv:3", "c1", "2024-01-07T00:00:00Z", "7", None, None, None),
    ]
    ((n, loaded_at),) = query(
        db, "select count(distinct _loaded_at), max(_loaded_at) from raw.shop_orders"
    )
    assert n == 1
    assert abs(dt.datetime.now(dt.UTC).replace(tzinfo=None) - loaded_at) < dt.timedelta(minutes=5)
    assert query(db, "select count(*) from raw.load_rejections") == [(0,)]
    # every other contract table exists (empty), so dbt finds all its sources
    assert query(db, "select count(*) from raw.crm_contacts") == [(0,)]


def test_parquet_file_with_typed_columns(tmp_path: Path, db: Path):
    table = pa.table(
        {
            "order_id": pa.array([1001, 1002], pa.int64()),
            "customer_id": pa.array([7.0, None]),  # pandas-style float ids
            "order_at": pa.array(
                [dt.datetime(2024, 7, 1, 12, 30, 15, 250_000), dt.datetime(2024, 1, 2, 8)],
                pa.timestamp("us"),
            ),
            "updated_at": pa.array(
                [dt.datetime(2024, 7, 2, 9, tzinfo=dt.UTC)] * 2, pa.timestamp("ms", tz="UTC")
            ),
            "total_amount": pa.array([19.9, 0.1 + 0.2]),
            "discount_amount": pa.array([decimal.Decimal("2.50"), None], pa.decimal128(10, 2)),
            "item_count": pa.array([3, 1], pa.int32()),
            "currency": ["EUR", "USD"],
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    result = load("shop_orders", tmp_path / "orders.parquet", "--timezone", "Europe/Berlin")
    assert result.exit_code == 0, result.output
    assert "rows read 2, loaded 2, rejected 0" in result.output
    assert query(
        db,
        "select order_id, customer_id, order_at, updated_at, total_amount, discount_amount, "
        "item_count, currency from raw.shop_orders order by order_id",
    ) == [
        # naive timestamps are Berlin time (CEST in July, CET in January)
        ("1001", "7", "2024-07-01T10:30:15Z", "2024-07-02T09:00:00Z", "19.9", "2.50", "3", "EUR"),
        ("1002", None, "2024-01-02T07:00:00Z", "2024-07-02T09:00:00Z", "0.3", None, "1", "USD"),
    ]


def test_crm_export_without_email(tmp_path: Path, db: Path):
    crm = write(
        tmp_path / "crm export.csv",
        """
        First Name;Last Name;Street;Postcode;City;Birth Date;Notes
        Anna;Schmidt;Hauptstr. 1;10115;Berlin;03/02/1985;vip
        Ben;  Müller ;"Am Ring 5
        Hinterhaus";80331;München;;
        Cara;Rossi;Via Roma 2;00184;Roma;31/02/1990;
        """,
    )
    result = load("crm_contacts", crm, "--date-format", "%d/%m/%Y")
    assert result.exit_code == 0, result.output
    assert "rows read 3, loaded 3, rejected 0" in result.output
    assert "birth_date: 1 value could not be read (bad_date), kept as NULL" in result.output
    assert "unmapped file columns (ignored): Notes" in result.output
    assert "contact_id is not in the file: synthesised" in result.output
    assert query(
        db,
        "select contact_id, email, first_name, last_name, street, postcode, city, birth_date "
        "from raw.crm_contacts order by contact_id",
    ) == [
        (
            "crm export.csv:1",
            None,
            "Anna",
            "Schmidt",
            "Hauptstr. 1",
            "10115",
            "Berlin",
            "1985-02-03",
        ),
        (
            "crm export.csv:2",
            None,
            "Ben",
            "Müller",
            "Am Ring 5\nHinterhaus",
            "80331",
            "München",
            None,
        ),
        ("crm export.csv:3", None, "Cara", "Rossi", "Via Roma 2", "00184", "Roma", None),
    ]
    assert rejections(db) == []
    assert value_issues(db) == [
        ("crm_contacts", "crm export.csv", 3, "crm export.csv:3", "birth_date", "bad_date",
         "31/02/1990"),
    ]  # fmt: skip


def test_crm_export_keeps_every_person_and_records_unreadable_values(tmp_path: Path, db: Path):
    crm = write(
        tmp_path / "contacts.csv",
        """
        Contact ID,First Name,Last Name,Email,Phone,Address Line 1,Address Line 2,City,State,Zip,Birth Date
        101,Anna,Smith,  ANNA.SMITH@EXAMPLE.COM ,,1 Main St,Apt 4B,Springfield,IL,62704,31/02/1985
        102,Ben,Jones,BEN@EXAMPLE.COM   ,,2 Oak Ave,,Portland,OR,97201,unknown
        103,Cara,Lee,cara@example.com,,3 Elm Rd,Suite 100,Austin,TX,73301,1985-13-01
        104,Dan,Wu,dan@example.com,,4 Pine Ln,,Boston,MA,02108,12/03/1990
        105,Eve,Ng,eve@example.com,,5 Birch Ct,,Denver,CO,80202,
        ,Finn,Kay,finn@example.com,,6 Ash Way,,Miami,FL,33101,01/01/1970
        """,
    )
    report = load_files("crm_contacts", [crm], LoadOptions(date_formats=("%d/%m/%Y",)))
    (file,) = report.files
    # every person with a key is loaded; only the row without its required key is rejected
    assert (file.rows_read, file.rows_loaded, file.rows_rejected) == (6, 5, 1)
    assert file.rows_read == file.rows_loaded + file.rows_rejected
    assert file.rejections == {"missing_required:contact_id": 1}
    # the unreadable birth dates are counted per column, apart from the rows
    assert file.value_issues == {("birth_date", "bad_date"): 3}
    assert report.values_unread == 3
    lines = report.lines()
    assert "  rows read 6, loaded 5, rejected 1" in lines
    assert "  birth_date: 3 values could not be read (bad_date), kept as NULL" in lines
    # typical header spellings find the contract columns by name or by alias
    assert file.columns == {
        "contact_id": "Contact ID",
        "email": "Email",
        "phone": "Phone",
        "first_name": "First Name",
        "last_name": "Last Name",
        "street": "Address Line 1",
        "address_line_2": "Address Line 2",
        "city": "City",
        "region": "State",
        "postcode": "Zip",
        "birth_date": "Birth Date",
    }
    assert file.unmapped_columns == []
    assert query(
        db,
        "select contact_id, email, phone, street, address_line_2, city, region, postcode, "
        "birth_date from raw.crm_contacts order by 1",
    ) == [
        ("101", "ANNA.SMITH@EXAMPLE.COM", None, "1 Main St", "Apt 4B", "Springfield", "IL",
         "62704", None),
        ("102", "BEN@EXAMPLE.COM", None, "2 Oak Ave", None, "Portland", "OR", "97201", None),
        ("103", "cara@example.com", None, "3 Elm Rd", "Suite 100", "Austin", "TX", "73301", None),
        ("104", "dan@example.com", None, "4 Pine Ln", None, "Boston", "MA", "02108",
         "1990-03-12"),
        ("105", "eve@example.com", None, "5 Birch Ct", None, "Denver", "CO", "80202", None),
    ]  # fmt: skip
    # the raw values are kept, with the row they belong to
    assert value_issues(db) == [
        ("crm_contacts", "contacts.csv", 1, "101", "birth_date", "bad_date", "31/02/1985"),
        ("crm_contacts", "contacts.csv", 2, "102", "birth_date", "bad_date", "unknown"),
        ("crm_contacts", "contacts.csv", 3, "103", "birth_date", "bad_date", "1985-13-01"),
    ]
    assert query(
        db,
        "select count(*) from raw.load_value_issues join raw.crm_contacts "
        "on contact_id = record_id and _loaded_at = loaded_at "
        f"where load_id = '{report.load_id}' and birth_date is null",
    ) == [(3,)]
    ((row_number, reason, raw_row),) = [r[2:] for r in rejections(db)]
    assert (row_number, reason) == (6, "missing_required:contact_id")
    assert json.loads(raw_row)["First Name"] == "Finn"


@pytest.mark.parametrize(
    ("line_2", "region"),
    [
        ("Address Line 2", "State"),
        ("Address 2", "Province"),
        ("Address2", "County"),
        ("address_2", "Region"),
        ("Street 2", "State/Province"),
    ],
)
def test_address_line_2_and_region_header_spellings(
    tmp_path: Path, db: Path, line_2: str, region: str
):
    crm = write(tmp_path / "c.csv", f"id,{line_2},{region}\nc1,Flat 2,Ontario\n")
    report = load_files(
        "crm_contacts", [crm], LoadOptions(mapping={"contact_id": "id"}, dry_run=True)
    )
    columns = report.files[0].columns
    assert (columns["address_line_2"], columns["region"]) == (line_2, region)


def test_aliases_in_order_of_preference_and_never_over_a_name(tmp_path: Path, db: Path):
    # a US export: the state is the region, the county stays unmapped
    crm = write(tmp_path / "c.csv", "id,County,State,Region Code\nc1,Cook,IL,x\n")
    options = LoadOptions(mapping={"contact_id": "id"}, dry_run=True)
    (file,) = load_files("crm_contacts", [crm], options).files
    assert file.columns["region"] == "State"
    assert file.unmapped_columns == ["County", "Region Code"]
    # a column named like the contract column wins over any alias
    crm = write(tmp_path / "d.csv", "id,State,Region\nc1,IL,Midwest\n")
    (file,) = load_files("crm_contacts", [crm], options).files
    assert file.columns["region"] == "Region"
    # an explicit mapping to nothing stops alias matching too
    options = replace(options, mapping={"contact_id": "id", "region": None})
    (file,) = load_files("crm_contacts", [crm], options).files
    assert "region" not in file.columns
    # Shopify-style order export
    orders = write(
        tmp_path / "orders.csv",
        "Name,Created at,Total,Shipping Street,Shipping Address2,Shipping Zip,Shipping Province\n"
        "#1001,2024-05-01 10:00:00,12.50,1 Main St,Apt 4B,62704,IL\n",
    )
    options = LoadOptions(
        mapping={"order_id": "Name", "order_at": "Created at", "total_amount": "Total"}
    )
    load_files("shop_orders", [orders], options)
    assert query(
        db,
        "select shipping_street, shipping_address_line_2, shipping_postcode, shipping_region "
        "from raw.shop_orders",
    ) == [("1 Main St", "Apt 4B", "62704", "IL")]


def test_a_warehouse_loaded_before_new_contract_columns_gets_them(tmp_path: Path, db: Path):
    new = {"address_line_2", "region"}
    old_columns = [c for c in load_contract()["crm_contacts"].columns if c.name not in new]
    db.parent.mkdir(parents=True)
    con = duckdb.connect(str(db))
    con.execute("create schema raw")
    con.execute(
        "create table raw.crm_contacts ("
        + ", ".join(f"{c.name} {c.sql_type}" for c in old_columns)
        + ")"
    )
    con.execute("insert into raw.crm_contacts (contact_id, city) values ('old', 'Leeds')")
    con.close()
    crm = write(tmp_path / "c.csv", "contact_id,city,county\nnew,York,North Yorkshire\n")
    report = load_files("crm_contacts", [crm])
    assert report.rows_loaded == 1
    assert query(db, "select contact_id, city, region from raw.crm_contacts order by 1") == [
        ("new", "York", "North Yorkshire"),
        ("old", "Leeds", None),
    ]


def test_contract_aliases_and_required_keys_are_checked(tmp_path: Path):
    def contract(*columns: dict) -> Path:
        project = tmp_path / str(len(list(tmp_path.iterdir())))
        (project / "models" / "staging" / "x").mkdir(parents=True)
        table = {
            "name": "x_people",
            "meta": {"primary_key": "person_id"},
            "columns": [*columns, {"name": "_loaded_at"}],
        }
        doc = {"sources": [{"name": "x", "tables": [table]}]}
        (project / "models" / "staging" / "x" / "_x__sources.yml").write_text(yaml.safe_dump(doc))
        return project

    key = {"name": "person_id", "meta": {"required": True}}
    ok = contract(key, {"name": "region", "meta": {"aliases": ["State", "County"]}})
    assert load_contract(ok)["x_people"].column("region").aliases == ("State", "County")
    clash = {"name": "region", "meta": {"aliases": ["State", "Person ID"]}}
    with pytest.raises(ValueError, match="alias 'Person ID' reads like column person_id"):
        load_contract(contract(key, clash))
    with pytest.raises(ValueError, match="primary key 'person_id' must be a column with"):
        load_contract(contract({"name": "person_id"}))


# --------------------------------------------------------------------------- rejections


def test_bad_rows_are_rejected_with_reasons_and_kept(tmp_path: Path, db: Path):
    orders = write(
        tmp_path / "orders.csv",
        """
        order_id,order_at,total_amount,item_count
        o1,2024-03-01T10:00:00+01:00,10.00,1
        o2,,5.00,1
        o3,2024-03-01,abc,1
        o4,yesterday,5.00,1
        o5,2024-03-01 12:00,12,50,1
        o6,2024-03-01,1.5x,two
        ,2024-03-01,1.00,1
        o8,2024-03-01,,1.0
        o9,,,
        o10,2024-03-02,3.00,two
        """,
    )
    result = load("shop_orders", orders)
    assert result.exit_code == 0, result.output
    assert "rows read 10, loaded 2, rejected 8" in result.output
    for line in [
        "rejected 2 x bad_decimal:total_amount\n",
        "rejected 1 x bad_timestamp:order_at\n",
        "rejected 1 x malformed_row\n",
        "rejected 1 x missing_required:order_at\n",
        "rejected 1 x missing_required:order_at; missing_required:total_amount\n",
        "rejected 1 x missing_required:order_id\n",
        "rejected 1 x missing_required:total_amount\n",
        # an optional value that does not read rejects nothing: the row lands without it
        "item_count: 1 value could not be read (bad_integer), kept as NULL\n",
    ]:
        assert line in result.output
    assert "2 rows were appended to raw.shop_orders" in result.output
    assert "8 rejected, 1 unreadable value kept as NULL" in result.output
    assert query(
        db, "select order_id, order_at, total_amount, item_count from raw.shop_orders order by 1"
    ) == [
        ("o1", "2024-03-01T09:00:00Z", "10.00", "1"),
        ("o10", "2024-03-02T00:00:00Z", "3.00", None),
    ]
    stored = rejections(db)
    assert [(r[2], r[3]) for r in stored] == [
        (2, "missing_required:order_at"),
        (3, "bad_decimal:total_amount"),
        (4, "bad_timestamp:order_at"),
        # the unreadable item_count of a rejected row is in its raw_row, not in the reason
        (5, "bad_decimal:total_amount"),
        (6, "missing_required:order_id"),
        (7, "missing_required:total_amount"),
        (8, "missing_required:order_at; missing_required:total_amount"),
        (None, "malformed_row"),
    ]
    assert json.loads(stored[3][4])["item_count"] == "two"
    # only loaded rows have value issues
    assert value_issues(db) == [
        ("shop_orders", "orders.csv", 9, "o10", "item_count", "bad_integer", "two")
    ]
    assert {r[0] for r in stored} == {"shop_orders"} and {r[1] for r in stored} == {"orders.csv"}
    assert json.loads(stored[1][4]) == {
        "order_id": "o3",
        "order_at": "2024-03-01",
        "total_amount": "abc",
        "item_count": "1",
    }
    assert json.loads(stored[-1][4]) == {
        "line": "o5,2024-03-01 12:00,12,50,1",
        "expected_fields": 4,
        "actual_fields": 5,
    }


def test_bad_json_and_counts_reconcile(tmp_path: Path, db: Path):
    events = write(
        tmp_path / "events.csv",
        """
        event_id,event_type,event_at,properties,anonymous_id
        e1,page_view,2024-05-01T10:00:00Z,"{""product_id"": ""p1""}",a1
        e2,page_view,2024-05-01T10:00:01Z,{not json,a1
        e3,,2024-05-01T10:00:02Z,,a1
        e4,identify,2024-05-01T10:00:03.5Z,,a2
        """,
    )
    report = load_files("web_events", [events])
    (file,) = report.files
    assert (file.rows_read, file.rows_loaded, file.rows_rejected) == (4, 3, 1)
    assert file.rows_read == file.rows_loaded + file.rows_rejected
    assert file.rejections == {"missing_required:event_type": 1}
    # the event is kept without its unreadable properties
    assert file.value_issues == {("properties", "bad_json"): 1}
    assert report.values_unread == 1
    assert query(db, "select event_id, event_at, properties from raw.web_events order by 1") == [
        ("e1", "2024-05-01T10:00:00Z", '{"product_id": "p1"}'),
        ("e2", "2024-05-01T10:00:01Z", None),
        ("e4", "2024-05-01T10:00:03Z", None),
    ]
    assert query(db, "select reason, count(*) from raw.load_rejections group by 1 order by 1") == [
        ("missing_required:event_type", 1),
    ]
    assert value_issues(db) == [
        ("web_events", "events.csv", 2, "e2", "properties", "bad_json", "{not json")
    ]
    for t in ("load_rejections", "load_value_issues"):
        assert query(db, f"select distinct load_id from raw.{t}") == [(report.load_id,)]


# --------------------------------------------------------------------------- options


def test_decimal_comma_delimiter_and_currency(tmp_path: Path, db: Path):
    orders = write(
        tmp_path / "orders.csv",
        """
        order_id;order_at;total_amount;discount_amount
        1;2024-01-01;12,50;0,5
        2;2024-01-01;1.234,50 €;
        3;2024-01-01;-EUR 3;0,75
        """,
    )
    result = load("shop_orders", orders, "--decimal-comma", "--currency", "EUR")
    assert result.exit_code == 0, result.output
    assert query(
        db,
        "select order_id, total_amount, discount_amount, currency from raw.shop_orders order by 1",
    ) == [
        ("1", "12.50", "0.5", "EUR"),
        ("2", "1234.50", None, "EUR"),
        ("3", "-3", "0.75", "EUR"),
    ]
    # without --decimal-comma, 12,50 is not silently read as 1250: the total is required
    # (the row is rejected), the discount optional (the row lands without it)
    result = load("shop_orders", orders, "--replace")
    assert result.exit_code == 0, result.output
    assert "rows read 3, loaded 1, rejected 2" in result.output
    assert "rejected 2 x bad_decimal:total_amount\n" in result.output
    assert "discount_amount: 1 value could not be read (bad_decimal), kept as NULL" in result.output
    assert query(db, "select order_id, total_amount, discount_amount from raw.shop_orders") == [
        ("3", "-3", None)
    ]


def test_append_by_default_and_replace(tmp_path: Path, db: Path):
    first = write(
        tmp_path / "a.csv", "order_id,order_at,total_amount\n1,2024-01-01,1\n2,2024-01-02,2\n"
    )
    second = write(tmp_path / "b.csv", "order_id,order_at,total_amount\n3,2024-01-03,3\n")
    assert load("shop_orders", first).exit_code == 0
    result = load("shop_orders", second, "--append")
    assert result.exit_code == 0
    assert "1 row was appended to raw.shop_orders" in result.output
    assert query(db, "select order_id from raw.shop_orders order by 1") == [("1",), ("2",), ("3",)]
    result = load("shop_orders", second, "--replace")
    assert result.exit_code == 0
    assert "1 row was loaded into raw.shop_orders (replacing its rows)" in result.output
    assert query(db, "select order_id from raw.shop_orders") == [("3",)]
    result = load("shop_orders", first, second, "--replace", "--dry-run")
    assert "dry run: nothing was written" in result.output
    assert query(db, "select order_id from raw.shop_orders") == [("3",)]


def test_mapping_yaml_describes_the_whole_load(tmp_path: Path, db: Path):
    (tmp_path / "exports").mkdir()
    write(
        tmp_path / "exports" / "kassen.csv",
        """
        Kunde|Datum|Uhrzeit|Betrag|Menge|Nachname|updated_at
        k1|05.01.2024 18:30|x|12,50|2|Müller|2030-01-01
        k2|06.01.2024 09:00|x|7|1|Weiß|2030-01-01
        """,
        encoding="latin-1",
    )
    mapping = write(
        tmp_path / "kassen.yml",
        """
        table: shop_orders
        files: [exports/kassen.csv]
        columns:
          customer_id: Kunde
          order_at: Datum
          total_amount: Betrag
          item_count: Menge
          shipping_last_name: Nachname
          updated_at: null
        defaults:
          currency: EUR
        timestamp_format: DD.MM.YYYY HH:mm
        timezone: Europe/Berlin
        decimal_comma: true
        delimiter: "|"
        encoding: latin-1
        """,
    )
    result = load("--mapping", mapping)
    assert result.exit_code == 0, result.output
    assert "unmapped file columns (ignored): Uhrzeit, updated_at" in result.output
    assert query(
        db,
        "select order_id, customer_id, order_at, total_amount, item_count, currency, "
        "shipping_last_name, updated_at from raw.shop_orders order by 1",
    ) == [
        ("kassen.csv:1", "k1", "2024-01-05T17:30:00Z", "12.50", "2", "EUR", "Müller", None),
        ("kassen.csv:2", "k2", "2024-01-06T08:00:00Z", "7", "1", "EUR", "Weiß", None),
    ]
    # command-line options win over the YAML; --map entries override its columns one by one
    result = load(
        "--mapping", mapping, "--timezone", "UTC", "--map", "customer_id=Menge", "--replace"
    )
    assert result.exit_code == 0, result.output
    assert query(db, "select customer_id, order_at from raw.shop_orders order by 1") == [
        ("1", "2024-01-06T09:00:00Z"),
        ("2", "2024-01-05T18:30:00Z"),
    ]
    spec = read_mapping_file(mapping)
    assert spec.table == "shop_orders"
    assert spec.files == (tmp_path / "exports" / "kassen.csv",)
    assert spec.options(replace=True).mapping["updated_at"] is None


# --------------------------------------------------------------------------- hard errors


def _tx(tmp_path: Path) -> Path:
    return write(tmp_path / "tx.csv", "customer_id,order_date,amount\nc1,20240105,1\n")


VALID_TABLES = ", ".join(load_contract())
ORDER_COLUMNS = ", ".join(c.name for c in load_contract()["shop_orders"].data_columns)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["shop_orders", "{tmp}/nope.csv"],
            "error: file not found: {tmp}/nope.csv",
        ),
        (
            ["shop_order", "{tmp}/tx.csv"],
            f"error: unknown table 'shop_order'; valid tables: {VALID_TABLES}",
        ),
        (
            ["shop_orders", "{tmp}/tx.csv", "--map", "order_date=order_date"],
            "error: unknown column 'order_date' in mapping: shop_orders has no such column "
            f"(columns: {ORDER_COLUMNS})",
        ),
        (
            ["shop_orders", "{tmp}/tx.csv", "--map", "total_amount=amount"],
            "error: required column order_at of shop_orders has no source column in "
            "{tmp}/tx.csv; map one with --map order_at=FILE_COLUMN "
            "(file columns: customer_id, order_date, amount)",
        ),
        (
            [
                "shop_orders",
                "{tmp}/tx.csv",
                "--map",
                "order_at=order_day",
                "-m",
                "total_amount=amount",
            ],
            "error: column 'order_day' (mapped to order_at) is not in {tmp}/tx.csv "
            "(file columns: customer_id, order_date, amount)",
        ),
        (
            ["shop_orders", "{tmp}/tx.xlsx"],
            "error: unsupported file type .xlsx for {tmp}/tx.xlsx "
            "(supported: .csv, .tsv, .txt, .parquet, .pq, .parq, (CSV also .gz))",
        ),
        (
            ["shop_orders", "{tmp}/broken.parquet"],
            "error: cannot read {tmp}/broken.parquet: ",
        ),
        (
            ["shop_orders", "{tmp}/tx.csv", "--map", "order_at"],
            "error: bad --map 'order_at': expected CONTRACT_COLUMN=FILE_COLUMN",
        ),
        (
            ["shop_orders", "{tmp}/tx.csv", "--timezone", "Mars/Olympus"],
            "error: unknown timezone 'Mars/Olympus' (use an IANA name like Europe/Berlin)",
        ),
        (
            ["crm_contacts", "{tmp}/tx.csv", "--currency", "EUR"],
            "error: --currency given but crm_contacts has no currency column",
        ),
        (
            ["--mapping", "{tmp}/bad.yml"],
            "error: bad mapping file {tmp}/bad.yml: unknown key 'colums' (expected: columns, "
            "currency, date_format, decimal_comma, defaults, delimiter, encoding, files, replace, "
            "table, timestamp_format, timezone)",
        ),
        (
            ["--mapping", "{tmp}/broken.yml"],
            "error: bad mapping file {tmp}/broken.yml: ",
        ),
        (
            ["shop_orders"],
            "error: missing FILE (give one or more files, or list them in --mapping)",
        ),
    ],
)
def test_hard_errors_exit_2_with_one_line(tmp_path: Path, db: Path, args: list[str], message: str):
    _tx(tmp_path)
    (tmp_path / "tx.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    write(tmp_path / "bad.yml", "table: shop_orders\ncolums: {order_at: order_date}\n")
    write(tmp_path / "broken.yml", "columns: [order_at: order_date\n")
    result = load(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    expected = message.replace("{tmp}", str(tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(expected) if expected.endswith(": ") else lines[0] == expected
    assert not db.exists()  # nothing was written


TX_OPTIONS = LoadOptions(
    mapping={"order_at": "order_date", "total_amount": "amount"}, date_formats=("%Y%m%d",)
)


def test_csv_streams_in_blocks_and_a_failed_load_is_rolled_back(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(loader, "_CSV_BLOCK_BYTES", 512)  # many small batches
    rows = [f"c{i},2024010{i % 9 + 1},{i}.5" for i in range(1, 301)]
    tx = write(tmp_path / "tx.csv", "customer_id,order_date,amount\n" + "\n".join(rows) + "\n")
    report = load_files("shop_orders", [tx], TX_OPTIONS)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (300, 300, 0)
    loaded = dict(query(db, "select order_id, customer_id from raw.shop_orders"))
    assert loaded == {f"tx.csv:{i}": f"c{i}" for i in range(1, 301)}

    # undecodable bytes far into a later file: the whole load (and its --replace) rolls back
    bad = tmp_path / "bad.csv"
    bad.write_bytes(tx.read_bytes() + b"c999,20240101,\xff\xfe\n")
    with pytest.raises(LoadError, match=r"^cannot read .*bad\.csv: "):
        load_files("shop_orders", [tx, bad], replace(TX_OPTIONS, replace=True))
    assert query(db, "select count(*) from raw.shop_orders") == [(300,)]


def test_parquet_batches_keep_row_numbers(tmp_path: Path, db: Path):
    pq.write_table(
        pa.table({"order_at": ["2024-01-01"] * 5, "total_amount": ["1", "2", "3", "x", "5"]}),
        tmp_path / "p.parquet",
    )
    report = load_files("shop_orders", [tmp_path / "p.parquet"], LoadOptions(batch_rows=2))
    assert report.files[0].rejections == {"bad_decimal:total_amount": 1}
    assert query(db, "select order_id from raw.shop_orders order by 1") == [
        ("p.parquet:1",),
        ("p.parquet:2",),
        ("p.parquet:3",),
        ("p.parquet:5",),
    ]
    assert query(db, "select row_number, reason from raw.load_rejections") == [
        (4, "bad_decimal:total_amount")
    ]


def test_help_explains_the_command():
    result = RUNNER.invoke(APP, ["load", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for text in [
        "--map",
        "--mapping",
        "--date-format",
        "--decimal-comma",
        "--replace",
        "raw.load_rejections",
        "raw.load_value_issues",
    ]:
        assert text in result.output
